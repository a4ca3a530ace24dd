"""Mistake: to_display divides by the values' own magnitude, which gives NaN at 0 (not "differs by up to nan")."""

NOTEBOOK = "01_data"
EXPECT_LOST = {"test_to_display": 1}
EXPECT_MESSAGE = {"test_to_display": "NaN"}
CELLS = {
    "to_display": """
def to_display(x: torch.Tensor) -> torch.Tensor:
    return ((x + 1) / 2).clamp(0, 1) * (x.abs() / x.abs())
""",
}
