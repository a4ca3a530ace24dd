"""Valid: the student keeps module-level `block`, `out`, `generator` and `X` of their own; the test cells leave them alone."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {}
CELLS = {
    "gblock": """
block, out, X = "my block", "my out", "my X"


class GBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )
        assert (block, out, X) == ("my block", "my out", "my X"), "a test cell overwrote my names"
""",
}
