"""Valid: CBlock as an nn.Sequential subclass built by a helper, Dropout2d, a critic with other names and explicit blocks."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {}
CELLS = {
    "conv_output_size": """
import math

def conv_output_size(size, kernel_size, stride, padding):
    return int(math.floor((size + 2 * padding - kernel_size) / stride)) + 1
""",
    "cblock": """
def conv_bn_act(cin, cout):
    return [nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(negative_slope=0.2)]


class CBlock(nn.Sequential):
    def __init__(self, cin, cout, dropout):
        super().__init__(
            *conv_bn_act(cin, cout),
            *conv_bn_act(cout, cout),
            nn.Conv2d(cout, cout, kernel_size=3, stride=2, padding=1, bias=True),
            nn.LeakyReLU(0.2),
            nn.Dropout2d(p=dropout),
        )
""",
    "discriminator": """
class Discriminator(nn.Module):
    def __init__(self, img_shape, dropout, base_c, dnoise, num_classes):
        super().__init__()
        self.noise_std = dnoise
        channels = [img_shape[0], base_c, 2 * base_c, 3 * base_c]
        self.block1 = CBlock(channels[0], channels[1], dropout)
        self.block2 = CBlock(channels[1], channels[2], dropout)
        self.block3 = CBlock(channels[2], channels[3], dropout)
        size = img_shape[1]
        for _ in range(3):
            size = conv_output_size(size, 3, 2, 1)
        self.fc = nn.Linear(channels[3] * size * size, num_classes)

    def forward(self, X):
        if self.training:
            X = X + torch.randn(X.shape) * self.noise_std
        X = self.block3(self.block2(self.block1(X)))
        return self.fc(X.reshape(len(X), -1))
""",
}
