"""Mistake: GAN.forward returns the logits alone, not the pair (logits, images)."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_gan_forward": 2}
EXPECT_MESSAGE = {"test_gan_forward": "pair"}
EDITS = {"gan_forward": [("return self.discriminator(images), images", "return self.discriminator(images)")]}
