"""Valid: the latents follow the device of the first parameter (next(self.parameters()).device)."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {}
EDITS = {
    "generator": [
        (
            "X = torch.randn(batch_size, self.latent_size, device=self.project[0].weight.device)",
            "X = torch.randn(batch_size, self.latent_size, device=next(self.parameters()).device)",
        )
    ]
}
