"""Mistake: the critic step never resets the gradients, so every step adds the old ones."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_step": 3}
EXPECT_MESSAGE = {"test_critic_step": "zero_grad"}
CELLS = {
    "critic_step": """
def critic_step(gan, optimizer, real_images, lblsmooth):
    real_logits, _ = gan(real_images, None)
    with torch.no_grad():
        fakes = gan.generator(None, len(real_images))
    fake_logits, _ = gan(fakes, None)
    loss = critic_loss(real_logits, fake_logits, lblsmooth)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
}
