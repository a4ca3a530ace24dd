"""Residual GAN for larger images (64, 128, 256 px), after the seed report on scaling up.

Blocks first, then the networks, with the calling conventions of the lab's DCGAN. The generator doubles
from 4x4 to the image size, the critic halves down to 4x4; widths are ``base_c`` times a per-resolution
multiplier (at 128 px and base_c 64: about 27M generator and 17M critic parameters, as in the report).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

# Channel multipliers from the 4x4 end of each network to its image end.
GENERATOR_WIDTHS = {64: [16, 8, 4, 2, 1], 128: [16, 14, 8, 4, 2, 1], 256: [16, 14, 8, 8, 4, 2, 1]}
CRITIC_WIDTHS = {64: [1, 2, 4, 8, 10], 128: [1, 2, 4, 8, 8, 10], 256: [1, 2, 4, 8, 8, 10, 10]}


def resnet_depth(size: int) -> int:
    """Number of doublings from 4x4 to ``size`` (64 -> 4, 128 -> 5, 256 -> 6)."""
    if size not in GENERATOR_WIDTHS:
        raise ValueError(f"the ResNet GAN makes 64, 128 or 256 pixel images, not {size}: set data.image_size")
    return size.bit_length() - 3


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019): ``x + gamma * attention(x)``, ``gamma`` starting at 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = nn.Conv2d(channels, inner, 1, bias=False)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)
        self.value = nn.Conv2d(channels, max(channels // 2, 1), 1, bias=False)
        self.out = nn.Conv2d(max(channels // 2, 1), channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, HW, C/8)
        k = self.key(x).flatten(2)  # (B, C/8, HW)
        v = self.value(x).flatten(2)  # (B, C/2, HW)
        attention = torch.softmax(q @ k, dim=-1)  # (B, HW, HW)
        mixed = (v @ attention.transpose(1, 2)).view(b, -1, h, w)
        return x + self.gamma * self.out(mixed)


class ResUpBlock(nn.Module):
    """Generator residual block: BN-ReLU-upsample-conv3x3-BN-ReLU-conv3x3, plus the upsampled input (through a
    1x1 convolution when the channel count changes)."""

    def __init__(self, cin: int, cout: int, upsample: str = "nearest") -> None:
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode=upsample)
        self.main = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(),
            self.upsample,
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(self.upsample(x))


class ResBlock(nn.Module):
    """Critic residual block: (ReLU)-conv3x3-ReLU-conv3x3-avgpool, plus a pooled 1x1 skip; no normalisation
    (WGAN-GP's penalty assumes none), no leading ReLU in the first block (its input is the image)."""

    def __init__(self, cin: int, cout: int, first: bool = False) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Identity() if first else nn.ReLU(),
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.AvgPool2d(2),
        )
        self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1), nn.AvgPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


class ResNetGenerator(nn.Module):
    """Linear to 4x4 features, one :class:`ResUpBlock` per doubling, BN-ReLU-conv3x3-Tanh; ``forward(X, batch_size)``
    as the lab's :class:`~ganlab_solution.models.Generator`."""

    def __init__(
        self,
        img_shape: tuple[int, int, int],
        latent_size: int,
        base_c: int = 64,
        upsample: str = "nearest",
        self_attention: bool = False,
    ) -> None:
        super().__init__()
        channels, size, _ = img_shape
        resnet_depth(size)
        widths = [base_c * m for m in GENERATOR_WIDTHS[size]]
        self.img_shape = tuple(img_shape)
        self.latent_size = latent_size
        self.start_shape = (widths[0], 4, 4)
        self.project = nn.Linear(latent_size, widths[0] * 16)
        blocks: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(widths, widths[1:])):
            blocks.append(ResUpBlock(cin, cout, upsample))
            if self_attention and i == len(widths) // 2 - 1:  # a middle resolution (32x32 at 128 px)
                blocks.append(SelfAttention(cout))
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Sequential(
            nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.Conv2d(widths[-1], channels, 3, padding=1), nn.Tanh()
        )

    def forward(self, X: torch.Tensor | None = None, batch_size: int | None = None) -> torch.Tensor:
        if (X is None) == (batch_size is None):
            raise ValueError("give the generator either a latent tensor X or a batch_size, not both nor neither")
        if X is None:
            X = torch.randn(batch_size, self.latent_size, device=self.project.weight.device)
        return self.to_image(self.blocks(self.project(X).view(-1, *self.start_shape)))


class ResNetDiscriminator(nn.Module):
    """One :class:`ResBlock` per halving down to 4x4, ReLU, global sum pooling, Linear; instance noise (``dnoise``)
    in training mode only, as in the lab's critic."""

    def __init__(
        self,
        img_shape: tuple[int, int, int],
        base_c: int = 64,
        dnoise: float = 0.0,
        num_classes: int = 2,
        self_attention: bool = False,
    ) -> None:
        super().__init__()
        channels, size, _ = img_shape
        resnet_depth(size)
        widths = [base_c * m for m in CRITIC_WIDTHS[size]]
        self.img_shape = tuple(img_shape)
        self.dnoise = dnoise
        blocks: list[nn.Module] = [ResBlock(channels, widths[0], first=True)]
        for i, (cin, cout) in enumerate(zip(widths, widths[1:])):
            if self_attention and i == len(widths) // 2 - 1:
                blocks.append(SelfAttention(cin))
            blocks.append(ResBlock(cin, cout))
        self.blocks = nn.Sequential(*blocks, nn.ReLU())
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.shape[1:] != self.img_shape:
            shape = ", ".join(map(str, self.img_shape))
            raise ValueError(f"the critic expects images of shape (B, {shape}), got {tuple(X.shape)}")
        if self.training and self.dnoise > 0:
            X = X + self.dnoise * torch.randn_like(X)
        return self.head(self.blocks(X).sum(dim=(2, 3)))


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every convolution and linear layer."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            setattr(module, name, _spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module


def replace_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d for a per-sample GroupNorm(1, C) (a layer norm over C, H, W): WGAN-GP penalises the
    gradient of each sample's score, which batch statistics would tie together."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.GroupNorm(1, child.num_features))
        else:
            replace_batchnorm(child)
    return module
