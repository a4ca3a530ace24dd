"""Mistake: generator(None, n) makes its latents on the CPU whatever the device of its weights."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_generator": 5}
EXPECT_MESSAGE = {"test_generator": "on the CPU"}
EDITS = {
    "generator": [
        (
            "X = torch.randn(batch_size, self.latent_size, device=self.project[0].weight.device)",
            "X = torch.randn(batch_size, self.latent_size)",
        )
    ]
}
