"""Mistake: the generator step detaches its images, so no gradient reaches the generator."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_generator_step": 2}
EXPECT_MESSAGE = {"test_generator_step": "did not change the generator"}
CELLS = {
    "generator_step": """
def generator_step(gan, optimizer, batch_size):
    fakes = gan.generator(None, batch_size).detach()
    logits, _ = gan(fakes, None)
    loss = generator_loss(logits)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
""",
}
