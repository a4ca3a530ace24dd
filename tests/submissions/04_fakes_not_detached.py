"""Mistake: the critic step scores fakes with the generator's graph attached, so gradients reach the generator."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_step": 3}
EXPECT_MESSAGE = {"test_critic_step": "no_grad"}
CELLS = {
    "critic_step": """
def critic_step(gan, optimizer, real_images, lblsmooth):
    optimizer.zero_grad()
    real_logits, _ = gan(real_images, None)
    fake_logits, _ = gan(None, real_images.shape[0])
    loss = critic_loss(real_logits, fake_logits, lblsmooth)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
}
