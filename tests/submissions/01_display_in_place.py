"""Valid: to_display works in place on the tensor it is given (add_, div_, clamp_) and returns it."""

NOTEBOOK = "01_data"
EXPECT_LOST = {}
CELLS = {
    "to_display": """
def to_display(x: torch.Tensor) -> torch.Tensor:
    return x.add_(1).div_(2).clamp_(0, 1)
""",
}
