"""Mistake: to_display maps (x + 1) / 2 but does not clamp to [0, 1]."""

NOTEBOOK = "01_data"
EXPECT_LOST = {"test_to_display": 1}
EXPECT_MESSAGE = {"test_to_display": "clamp"}
CELLS = {
    "to_display": """
def to_display(x: torch.Tensor) -> torch.Tensor:
    return (x + 1) / 2
""",
}
