"""Broken submission: the CBlock cell has a syntax error; only the CBlock's points may be lost."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_cblock": 3}
EXPECT_MESSAGE = {"test_cblock": "is not defined"}
CELLS = {
    "cblock": """
class CBlock(nn.Module):
    def __init__(self, cin, cout, dropout)
        super().__init__()
""",
}
