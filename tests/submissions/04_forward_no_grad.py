"""Mistake: GAN.forward generates under torch.no_grad(): the generator can never be trained through the GAN."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_gan_forward": 2}
EXPECT_MESSAGE = {"test_gan_forward": "torch.no_grad()"}
CELLS = {
    "gan_forward": """
class GAN(nn.Module):
    def __init__(self, img_shape, dropout=0.5, discriminator_base_c=32, dnoise=0.1, num_classes=2, latent_size=100, generator_base_c=256):
        super().__init__()
        self.discriminator = Discriminator(img_shape, dropout, discriminator_base_c, dnoise, num_classes)
        self.generator = Generator(img_shape, latent_size, generator_base_c)

    def forward(self, X, batch_size=None):
        if X is None:
            with torch.no_grad():
                X = self.generator(None, batch_size)
        return self.discriminator(X), X
""",
}
