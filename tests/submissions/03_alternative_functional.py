"""Valid: explicit layers called one by one in forward, F.interpolate for the upsampling, math.log2 for the block count."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {}
CELLS = {
    "gblock": """
import torch.nn.functional as F


class GBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))
""",
    "generator": """
import math


class Generator(nn.Module):
    def __init__(self, img_shape, latent_size, base_c):
        super().__init__()
        c, h, w = img_shape
        self.s = 7 if h % 7 == 0 else 8
        n = int(math.log2(h // self.s))
        self.nz, self.c0 = latent_size, base_c
        self.fc = nn.Linear(latent_size, base_c * self.s * self.s)
        layers = []
        ch = base_c
        for _ in range(n):
            layers.append(GBlock(ch, ch // 2))
            ch //= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, c, 1)

    def forward(self, X, batch_size=None):
        if X is None:
            X = torch.randn((batch_size, self.nz), device=self.fc.weight.device)
        h = F.relu(self.fc(X)).reshape(X.shape[0], self.c0, self.s, self.s)
        return torch.tanh(self.head(self.body(h)))
""",
}
