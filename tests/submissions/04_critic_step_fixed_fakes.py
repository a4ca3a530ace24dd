"""Mistake: the critic step always scores 64 fakes, whatever the number of real images."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_step": 3}
EXPECT_MESSAGE = {"test_critic_step": "as many fakes as there are real images"}
EDITS = {"critic_step": [("fakes = gan.generator(None, real_images.shape[0])", "fakes = gan.generator(None, 64)")]}
