"""The DCGAN of the lab: critic blocks, generator blocks, and the GAN that joins them.

Read top to bottom: the two building blocks first (:class:`CBlock`, :class:`GBlock`),
then the networks that stack them, then :class:`GAN`. Running
``python -m ganlab_solution.models`` performs the lab's shape checks.

Choices where the lab page and the original solution disagree follow the page:
bilinear upsampling then a 3x3 convolution (never a transposed convolution),
conv-BN-ReLU order in the generator, no convolution bias before a BatchNorm
(the normalisation would cancel it), no BatchNorm on the critic's downsampling
convolution.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from ganlab.harness import count_parameters, init_weights

# Image shapes are (channels, height, width), as in the lab.
ImgShape = tuple[int, int, int]


def conv_bn_lrelu(cin: int, cout: int) -> list[nn.Module]:
    """3x3 convolution (no bias: BatchNorm follows), BatchNorm, LeakyReLU(0.2)."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    """3x3 convolution (no bias: BatchNorm follows), BatchNorm, ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class CBlock(nn.Module):
    """Critic block: two conv-BN-LeakyReLU, a stride-2 conv that halves the size, dropout.

    The stride-2 convolution downsamples with learned weights (instead of a pooling);
    it has a bias because no BatchNorm follows it.
    """

    def __init__(self, cin: int, cout: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            *conv_bn_lrelu(cin, cout),
            *conv_bn_lrelu(cout, cout),
            nn.Conv2d(cout, cout, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


class GBlock(nn.Module):
    """Generator block: bilinear x2 upsampling, then two conv-BN-ReLU.

    Upsample-then-convolve avoids the checkerboard artifacts of transposed
    convolutions (Odena, Dumoulin and Olah, 2016). ``upsample`` is the going-further
    track's option (``nearest``); the lab uses ``bilinear``.
    """

    def __init__(self, cin: int, cout: int, *, upsample: str = "bilinear") -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Upsample(scale_factor=2, mode=upsample, **({"align_corners": False} if upsample == "bilinear" else {})),
            *conv_bn_relu(cin, cout),
            *conv_bn_relu(cout, cout),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


def conv_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Width (or height) of a convolution's output for an input of width ``size``."""
    return (size + 2 * padding - kernel_size) // stride + 1


def generator_start_size(size: int) -> tuple[int, int]:
    """The (start size, number of doublings) that reach ``size`` from 7 or 8.

    28 -> (7, 2), 32 -> (8, 2), 64 -> (8, 3). Raises ``ValueError`` for sizes
    whose repeated halvings never reach 7 or 8 (e.g. 30 or 100).
    """
    start, ndoublings = size, 0
    while start > 8 and start % 2 == 0:
        start //= 2
        ndoublings += 1
    if start not in (7, 8):
        raise ValueError(
            f"the generator cannot make {size}x{size} images: the size must be 7 or 8 times a power "
            "of two (28, 32, 56, 64, 128...)"
        )
    return start, ndoublings


class Discriminator(nn.Module):
    """The critic: CBlock(k) - CBlock(2k) - CBlock(3k) - Linear(num_classes).

    Args:
        img_shape: (channels, height, width) of the images, e.g. (1, 28, 28).
        dropout: dropout probability at the end of each block.
        base_c: width k of the first block (the lab uses 32).
        dnoise: standard deviation of the Gaussian "instance noise" added to the
            input in training mode only; evaluation sees the clean image.
        num_classes: number of logits (2: fake is class 0, real is class 1).

    ``forward`` maps (B, C, H, W) images in [-1, 1] to (B, num_classes) logits.
    """

    def __init__(self, img_shape: ImgShape, dropout: float, base_c: int, dnoise: float, num_classes: int) -> None:
        super().__init__()
        channels, height, width = img_shape
        self.img_shape = tuple(img_shape)
        self.dnoise = dnoise
        widths = [base_c, 2 * base_c, 3 * base_c]
        self.blocks = nn.Sequential(
            CBlock(channels, widths[0], dropout),
            CBlock(widths[0], widths[1], dropout),
            CBlock(widths[1], widths[2], dropout),
        )
        for _ in self.blocks:  # each block's stride-2 convolution (kernel 3, padding 1)
            height, width = conv_output_size(height, 3, 2, 1), conv_output_size(width, 3, 2, 1)
        self.head = nn.Linear(widths[2] * height * width, num_classes)
        self.apply(init_weights)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.shape[1:] != self.img_shape:
            raise ValueError(
                f"the critic expects images of shape (B, {', '.join(map(str, self.img_shape))}), got {tuple(X.shape)}"
            )
        if self.training and self.dnoise > 0:
            X = X + self.dnoise * torch.randn_like(X)
        # flatten(1) (not squeeze) keeps a batch of one as (1, num_classes).
        return self.head(self.blocks(X).flatten(1))


class Generator(nn.Module):
    """The generator: Linear - ReLU, reshape, one GBlock per doubling, 1x1 conv - Tanh.

    Args:
        img_shape: (channels, height, width) of the images to make; the height must be
            7 or 8 times a power of two (28, 32, 64...).
        latent_size: dimension of the latent vector z.
        base_c: channels of the first feature map; halved by each GBlock.

    ``forward(X, batch_size)`` takes either a (B, latent_size) latent tensor ``X``, or
    ``X=None`` and a ``batch_size`` to draw z from N(0, 1) itself. Images are in [-1, 1].
    """

    def __init__(self, img_shape: ImgShape, latent_size: int, base_c: int, *, upsample: str = "bilinear") -> None:
        super().__init__()
        channels, height, width = img_shape
        if height != width:
            raise ValueError(f"the generator makes square images, got {height}x{width}")
        start, ndoublings = generator_start_size(height)
        if base_c >> ndoublings < 1:
            raise ValueError(f"base_c={base_c} is too small for {ndoublings} halvings of the channels")
        self.img_shape = tuple(img_shape)
        self.latent_size = latent_size
        self.start_shape = (base_c, start, start)
        self.project = nn.Sequential(nn.Linear(latent_size, base_c * start * start), nn.ReLU())
        widths = [base_c >> i for i in range(ndoublings + 1)]
        self.blocks = nn.Sequential(*(GBlock(cin, cout, upsample=upsample) for cin, cout in zip(widths, widths[1:])))
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], channels, 1), nn.Tanh())
        self.apply(init_weights)

    def forward(self, X: torch.Tensor | None, batch_size: int | None = None) -> torch.Tensor:
        if (X is None) == (batch_size is None):
            raise ValueError("give the generator either a latent tensor X or a batch_size, not both nor neither")
        if X is None:
            X = torch.randn(batch_size, self.latent_size, device=self.project[0].weight.device)
        elif X.ndim != 2 or X.shape[1] != self.latent_size:
            raise ValueError(f"the generator expects latents of shape (B, {self.latent_size}), got {tuple(X.shape)}")
        features = self.project(X).view(-1, *self.start_shape)
        if len(self.blocks) and self.blocks[0].layers[1].weight.is_contiguous(memory_format=torch.channels_last):
            # A channels_last model (trainer option) gets channels_last features: CUDA's
            # bilinear upsampling kernel for the default layout is many times slower.
            features = features.contiguous(memory_format=torch.channels_last)
        return self.to_image(self.blocks(features))


class GAN(nn.Module):
    """A critic and a generator; ``forward`` scores real images or fresh fakes.

    ``forward(X, batch_size)``: with real images ``X`` (and ``batch_size=None``) it
    returns ``(critic logits, X)``; with ``X=None`` and a ``batch_size`` it generates
    that many images and returns ``(critic logits, generated images)``.
    """

    def __init__(
        self,
        img_shape: ImgShape,
        dropout: float = 0.5,
        discriminator_base_c: int = 32,
        dnoise: float = 0.1,
        num_classes: int = 2,
        latent_size: int = 100,
        generator_base_c: int = 256,
    ) -> None:
        super().__init__()
        self.img_shape = tuple(img_shape)
        self.latent_size = latent_size
        self.discriminator = Discriminator(img_shape, dropout, discriminator_base_c, dnoise, num_classes)
        self.generator = Generator(img_shape, latent_size, generator_base_c)

    def forward(self, X: torch.Tensor | None, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if (X is None) == (batch_size is None):
            raise ValueError("give the GAN either real images X or a batch_size, not both nor neither")
        images = X if X is not None else self.generator(None, batch_size)
        return self.discriminator(images), images

    @classmethod
    def from_networks(cls, discriminator: nn.Module, generator: nn.Module) -> GAN:
        """A GAN around networks built elsewhere (e.g. the ResNet ones), same ``forward``."""
        gan = cls.__new__(cls)
        nn.Module.__init__(gan)
        gan.img_shape = tuple(generator.img_shape)
        gan.latent_size = generator.latent_size
        gan.discriminator, gan.generator = discriminator, generator
        return gan


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
