"""Mistake: the generator always starts at 7x7 with two blocks, so only 28x28 images work."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_generator": 5}
EXPECT_MESSAGE = {"test_generator": "8x8"}
CELLS = {
    "generator": """
class Generator(nn.Module):
    def __init__(self, img_shape, latent_size, base_c):
        super().__init__()
        self.latent_size, self.base_c = latent_size, base_c
        self.linear = nn.Sequential(nn.Linear(latent_size, base_c * 7 * 7), nn.ReLU())
        self.blocks = nn.Sequential(GBlock(base_c, base_c // 2), GBlock(base_c // 2, base_c // 4))
        self.out = nn.Sequential(nn.Conv2d(base_c // 4, img_shape[0], 1), nn.Tanh())

    def forward(self, X, batch_size=None):
        if X is None:
            X = torch.randn(batch_size, self.latent_size)
        return self.out(self.blocks(self.linear(X).view(-1, self.base_c, 7, 7)))
""",
}
