"""Mistake: the critic scores one mixed batch of reals and fakes, where the notebook asks for two separate batches."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_step": 3}
EXPECT_MESSAGE = {"test_critic_step": "one mixed batch"}
CELLS = {
    "critic_step": """
def critic_step(gan, optimizer, real_images, lblsmooth):
    n = real_images.shape[0]
    with torch.no_grad():
        fakes = gan.generator(None, n)
    logits, _ = gan(torch.cat([real_images, fakes]), None)
    loss = critic_loss(logits[:n], logits[n:], lblsmooth)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
""",
}
