"""Valid: the critic step draws the fakes through gan(None, n), then scores them detached in their own call."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {}
CELLS = {
    "critic_step": """
def critic_step(gan, optimizer, real_images, lblsmooth):
    optimizer.zero_grad()
    _, fakes = gan(None, real_images.shape[0])
    real_logits, _ = gan(real_images, None)
    fake_logits, _ = gan(fakes.detach(), None)
    loss = critic_loss(real_logits, fake_logits, lblsmooth)
    loss.backward()
    optimizer.step()
    return float(loss)
""",
}
