"""The DCGAN of the lab, top to bottom: the size formula, the blocks, the networks, the GAN that joins them.

Each is an answer of the lab, copied into the notebooks by ``python -m ganlab_solution.notebooks``;
``python -m ganlab_solution.models`` runs the lab's shape checks. Where the lab page and the original
solution disagree this follows the page: bilinear upsampling then a 3x3 convolution, conv-BN-ReLU in the
generator, no convolution bias before a BatchNorm, no BatchNorm on the critic's downsampling convolution.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from ganlab.harness import count_parameters


def conv_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Width (or height) of a convolution's output for an input of width ``size``."""
    ### BEGIN SOLUTION
    return (size + 2 * padding - kernel_size) // stride + 1
    ### END SOLUTION


class CBlock(nn.Module):
    """Two conv-BN-LeakyReLU(0.2), a stride-2 conv with LeakyReLU(0.2), then dropout.

    The stride-2 convolution downsamples with learned weights (instead of a pooling);
    it keeps its bias because no BatchNorm follows it.
    """

    def __init__(self, cin: int, cout: int, dropout: float) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.layers = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2),
            nn.Conv2d(cout, cout, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
        )
        ### END SOLUTION

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.layers(X)
        ### END SOLUTION


class Discriminator(nn.Module):
    """CBlock(k) - CBlock(2k) - CBlock(3k) - Linear(num_classes), with instance noise in training.

    ``img_shape`` is (channels, height, width); ``base_c`` is k (32 in the lab); ``dnoise`` the
    standard deviation of the Gaussian noise added to the input in training mode only;
    ``num_classes`` the number of logits (2: fake is class 0, real is class 1).
    """

    def __init__(
        self, img_shape: tuple[int, int, int], dropout: float, base_c: int, dnoise: float, num_classes: int
    ) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        channels, height, width = img_shape
        self.dnoise = dnoise
        self.blocks = nn.Sequential(
            CBlock(channels, base_c, dropout),
            CBlock(base_c, 2 * base_c, dropout),
            CBlock(2 * base_c, 3 * base_c, dropout),
        )
        for _ in range(3):  # each block's stride-2 convolution (kernel 3, padding 1)
            height = conv_output_size(height, 3, 2, 1)
            width = conv_output_size(width, 3, 2, 1)
        self.head = nn.Linear(3 * base_c * height * width, num_classes)
        ### END SOLUTION

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        if self.training and self.dnoise > 0:
            X = X + self.dnoise * torch.randn_like(X)
        # flatten(1), not squeeze: a batch of one stays (1, num_classes).
        return self.head(self.blocks(X).flatten(1))
        ### END SOLUTION


class GBlock(nn.Module):
    """Bilinear x2 upsampling, then two conv-BN-ReLU layers.

    Upsampling then convolving avoids the checkerboard artifacts of transposed
    convolutions (Odena, Dumoulin and Olah, 2016).
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.layers = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )
        ### END SOLUTION

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.layers(X)
        ### END SOLUTION


class Generator(nn.Module):
    """Linear - ReLU, reshape, GBlocks (channels halved each time), 1x1 conv - Tanh.

    ``forward(X, batch_size)`` takes either latents ``X`` of shape (B, latent_size), or
    ``X=None`` and a ``batch_size`` to draw z from N(0, 1) itself. Images are in [-1, 1].
    """

    def __init__(self, img_shape: tuple[int, int, int], latent_size: int, base_c: int) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        channels, height, _ = img_shape
        start, nblocks = height, 0
        while start > 8 and start % 2 == 0:  # 28 -> 14 -> 7, 32 -> 16 -> 8
            start //= 2
            nblocks += 1
        self.latent_size = latent_size
        self.start_shape = (base_c, start, start)
        self.project = nn.Sequential(nn.Linear(latent_size, base_c * start * start), nn.ReLU())
        widths = [base_c // 2**i for i in range(nblocks + 1)]
        self.blocks = nn.Sequential(*[GBlock(cin, cout) for cin, cout in zip(widths, widths[1:])])
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], channels, 1), nn.Tanh())
        ### END SOLUTION

    def forward(self, X: torch.Tensor | None, batch_size: int | None = None) -> torch.Tensor:
        ### BEGIN SOLUTION
        if X is None:
            X = torch.randn(batch_size, self.latent_size, device=self.project[0].weight.device)
        features = self.project(X).view(-1, *self.start_shape)
        return self.to_image(self.blocks(features))
        ### END SOLUTION


class GAN(nn.Module):
    """A critic and a generator; forward scores real images or freshly generated ones.

    ``forward(X, None)`` with real images returns ``(critic logits, X)``;
    ``forward(None, batch_size)`` generates that many images and returns ``(logits, images)``.
    """

    def __init__(
        self,
        img_shape: tuple[int, int, int],
        dropout: float = 0.5,
        discriminator_base_c: int = 32,
        dnoise: float = 0.1,
        num_classes: int = 2,
        latent_size: int = 100,
        generator_base_c: int = 256,
    ) -> None:
        super().__init__()
        self.discriminator = Discriminator(img_shape, dropout, discriminator_base_c, dnoise, num_classes)
        self.generator = Generator(img_shape, latent_size, generator_base_c)

    def forward(self, X: torch.Tensor | None, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        ### BEGIN SOLUTION
        images = X if X is not None else self.generator(None, batch_size)
        return self.discriminator(images), images
        ### END SOLUTION


def _shape_checks() -> list[str]:
    """The lab page's shape checks plus the GAN's two modes; returns the failures."""
    failures: list[str] = []

    def check(name: str, got: torch.Size, want: tuple[int, ...]) -> None:
        status = "ok" if tuple(got) == want else "FAILED"
        print(f"{status:6s} {name}: {tuple(got)} (expected {want})")
        if status != "ok":
            failures.append(name)

    critic = Discriminator((1, 28, 28), dropout=0.5, base_c=32, dnoise=0.1, num_classes=2)
    check("critic((64, 1, 28, 28))", critic(torch.randn(64, 1, 28, 28)).shape, (64, 2))
    generator = Generator((1, 28, 28), latent_size=100, base_c=256)
    check("generator(randn(64, 100), None)", generator(torch.randn(64, 100), None).shape, (64, 1, 28, 28))
    check("generator(None, 64)", generator(None, 64).shape, (64, 1, 28, 28))
    gan = GAN((1, 28, 28))
    logits, images = gan(torch.randn(16, 1, 28, 28), None)
    check("gan(real images, None) logits", logits.shape, (16, 2))
    logits, images = gan(None, 16)
    check("gan(None, 16) logits", logits.shape, (16, 2))
    check("gan(None, 16) images", images.shape, (16, 1, 28, 28))
    print(f"parameters: critic {count_parameters(critic):,}, generator {count_parameters(generator):,}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if _shape_checks() else 0)
