"""Mistake: Adam with its default betas (0.9, 0.999) instead of the DCGAN (0.5, 0.999)."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_make_optimizers": 2}
EXPECT_MESSAGE = {"test_make_optimizers": "(0.5, 0.999)"}
CELLS = {
    "make_optimizers": """
def make_optimizers(gan, base_lr, wdecay):
    if wdecay > 0:
        critic = torch.optim.AdamW(gan.discriminator.parameters(), lr=base_lr, weight_decay=wdecay)
    else:
        critic = torch.optim.Adam(gan.discriminator.parameters(), lr=base_lr)
    return critic, torch.optim.Adam(gan.generator.parameters(), lr=base_lr)
""",
}
