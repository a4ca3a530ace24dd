"""Mistake: pixels divided by 255 only, so they land in [0, 1] instead of [-1, 1]."""

NOTEBOOK = "01_data"
EXPECT_LOST = {"test_to_unit_range": 2}
EXPECT_MESSAGE = {"test_to_unit_range": "127.5"}
CELLS = {
    "to_unit_range": """
def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255
""",
}
