"""The networks: the lab's shape checks, other image sizes, and the page's design rules."""

from __future__ import annotations

import runpy

import pytest
import torch
from torch import nn

from ganlab.errors import GanlabError
from ganlab.trainer import generator_start_size
from ganlab_solution.models import GAN, CBlock, Discriminator, GBlock, Generator, count_parameters


def test_batch_of_one_keeps_the_batch_dimension():
    critic = Discriminator((1, 28, 28), 0.5, 32, 0.1, 2).eval()
    assert critic(torch.randn(1, 1, 28, 28)).shape == (1, 2)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 56, 56)])
def test_gan_both_modes_for_each_image_size(shape):
    gan = GAN(shape)
    logits, images = gan(None, 4)
    assert logits.shape == (4, 2) and images.shape == (4, *shape)
    assert images.min() >= -1 and images.max() <= 1  # tanh output, the range of the real data
    real = torch.rand(4, *shape) * 2 - 1
    logits, same = gan(real, None)
    assert logits.shape == (4, 2) and same is real


def test_generator_depth_follows_image_size_and_refuses_sizes_that_do_not_reach_7_or_8():
    assert [generator_start_size(size) for size in (28, 32, 64)] == [(7, 2), (8, 2), (8, 3)]
    assert len(Generator((3, 64, 64), 100, 256).blocks) == 3
    for size in (30, 100, 12):
        with pytest.raises(GanlabError, match="7 or 8"):
            generator_start_size(size)


def test_parameter_counts_at_lab_defaults():
    gan = GAN((1, 28, 28))
    assert count_parameters(gan.discriminator) == 336_098
    assert count_parameters(gan.generator) == 1_820_737
    # The page's "almost 2.5M" is for an 8x8 start (32x32 images): 28x28 starts at 7x7.
    assert 2.0e6 < count_parameters(gan) < 2.6e6


def test_convolutions_before_batchnorm_have_no_bias():
    layers = [m for m in GAN((1, 28, 28)).modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    pairs = [(a, b) for a, b in zip(layers, layers[1:]) if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d)]
    assert len(pairs) == 6 + 4  # 2 per CBlock, 2 per GBlock
    assert all(conv.bias is None for conv, _ in pairs)


def test_blocks_follow_the_lab_page():
    block = CBlock(1, 32, dropout=0.3)
    kinds = [type(m).__name__ for m in block.layers]
    assert kinds == ["Conv2d", "BatchNorm2d", "LeakyReLU"] * 2 + ["Conv2d", "LeakyReLU", "Dropout"]
    assert block.layers[6].stride == (2, 2) and block.layers[6].bias is not None
    gblock = GBlock(256, 128)
    assert gblock.layers[0].mode == "bilinear"
    assert [type(m).__name__ for m in list(gblock.layers)[1:]] == ["Conv2d", "BatchNorm2d", "ReLU"] * 2
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in GAN((3, 64, 64)).modules())


def test_instance_noise_only_in_training_mode():
    critic = Discriminator((1, 28, 28), dropout=0.0, base_c=8, dnoise=0.5, num_classes=2)
    x = torch.randn(8, 1, 28, 28)
    critic.eval()
    assert torch.equal(critic(x), critic(x))
    critic.train()
    torch.manual_seed(0)
    a = critic(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, critic(x))


def test_models_module_runs_the_shape_checks(capsys):
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("ganlab_solution.models", run_name="__main__")
    out = capsys.readouterr().out
    assert exited.value.code == 0, out
    assert out.count("ok") == 6 and "FAILED" not in out
