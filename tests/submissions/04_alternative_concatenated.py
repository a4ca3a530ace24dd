"""Valid: one BCE over the concatenated batch (equal halves), scatter for the targets, .detach() on the fakes."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {}
CELLS = {
    "gan_forward": """
class GAN(nn.Module):
    def __init__(self, img_shape, dropout=0.5, discriminator_base_c=32, dnoise=0.1, num_classes=2, latent_size=100, generator_base_c=256):
        super().__init__()
        self.discriminator = Discriminator(img_shape, dropout, discriminator_base_c, dnoise, num_classes)
        self.generator = Generator(img_shape, latent_size, generator_base_c)

    def forward(self, X, batch_size=None):
        if X is not None:
            return self.discriminator(X), X
        fakes = self.generator(None, batch_size)
        return self.discriminator(fakes), fakes
""",
    "smooth_targets": """
def smooth_targets(labels, num_classes, lblsmooth):
    values = 1.0 - lblsmooth * torch.rand(len(labels), 1)
    return torch.zeros(len(labels), num_classes).scatter(1, labels[:, None], values)
""",
    "critic_loss": """
bce = nn.BCEWithLogitsLoss()


def critic_loss(real_logits, fake_logits, lblsmooth):
    labels = torch.cat([torch.ones(len(real_logits), dtype=torch.long), torch.zeros(len(fake_logits), dtype=torch.long)])
    return bce(torch.cat([real_logits, fake_logits]), smooth_targets(labels, 2, lblsmooth))
""",
    "critic_step": """
def critic_step(gan, optimizer, real_images, lblsmooth):
    batch = real_images.shape[0]
    fakes = gan.generator(None, batch).detach()
    optimizer.zero_grad()
    loss = critic_loss(gan.discriminator(real_images), gan.discriminator(fakes), lblsmooth)
    loss.backward()
    optimizer.step()
    return float(loss)
""",
}
