"""Valid: the block's dropout is F.dropout on the output, following the module's training flag."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {}
CELLS = {
    "cblock": """
import torch.nn.functional as F


class CBlock(nn.Module):
    def __init__(self, cin: int, cout: int, dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Conv2d(cout, cout, 3, stride=2, padding=1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = F.leaky_relu(self.bn1(self.conv1(X)), 0.2)
        X = F.leaky_relu(self.bn2(self.conv2(X)), 0.2)
        X = F.leaky_relu(self.down(X), 0.2)
        return F.dropout(X, self.dropout, self.training)
""",
}
