"""Valid: the instance noise drawn with torch.normal(0, dnoise, size) on the images' device."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {}
EDITS = {
    "discriminator": [
        (
            "X = X + self.dnoise * torch.randn_like(X)",
            "X = X + torch.normal(0.0, self.dnoise, size=X.shape, device=X.device)",
        )
    ]
}
