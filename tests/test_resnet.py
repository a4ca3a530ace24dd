"""The scaled-up GAN: ResNet shapes and sizes, the extra losses, and training options."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from ganlab.config import parse_config
from ganlab.harness import one_score
from ganlab_solution.losses import gradient_penalty, hinge_critic_loss, hinge_generator_loss, wasserstein_critic_loss
from ganlab_solution.models import count_parameters
from ganlab_solution.resnet import (
    ResNetDiscriminator,
    ResNetGenerator,
    SelfAttention,
    apply_spectral_norm,
    replace_batchnorm,
)
from ganlab_solution.trainer import Trainer, build_gan, resume

from .helpers import debug_config

# (generator, critic) parameters at base width 64, latent 128; the report's 128 px networks
# had 26,730,567 and 16,901,081.
SIZES = {64: (12_219_715, 11_824_962), 128: (27_970_115, 16_807_234), 256: (32_691_267, 24_591_554)}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_parameter_counts_per_image_size(size):
    generator = ResNetGenerator((3, size, size), 128, 64)
    critic = ResNetDiscriminator((3, size, size), 64)
    assert (count_parameters(generator), count_parameters(critic)) == SIZES[size]


@pytest.mark.parametrize("size", [64, 128])
def test_shapes_with_attention_and_spectral_norm(size):
    generator = ResNetGenerator((3, size, size), 32, 4, self_attention=True)
    critic = apply_spectral_norm(ResNetDiscriminator((3, size, size), 4, num_classes=1, self_attention=True))
    images = generator(None, 2)
    assert images.shape == (2, 3, size, size) and images.abs().max() <= 1
    assert critic(images).shape == (2, 1)
    assert generator(torch.randn(1, 32), None).shape == (1, 3, size, size)
    assert all(any(isinstance(m, SelfAttention) for m in net.modules()) for net in (generator, critic))
    assert sum(hasattr(m, "parametrizations") for m in critic.modules()) > 5


def test_unsupported_resnet_size_is_a_clear_error():
    with pytest.raises(ValueError, match="64, 128 or 256"):
        ResNetGenerator((3, 96, 96), 128)


def test_self_attention_starts_as_identity():
    layer = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(layer(x), x)
    layer.gamma.data.fill_(1.0)
    assert not torch.allclose(layer(x), x)


def test_wgan_gp_critic_has_no_batchnorm():
    config = parse_config({"optim": {"loss": "wgan-gp"}})
    gan = build_gan(config, (1, 28, 28))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in gan.discriminator.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in gan.generator.modules())  # only the critic changes
    assert gan.discriminator(torch.randn(3, 1, 28, 28)).shape == (3, 1)
    assert isinstance(replace_batchnorm(nn.Sequential(nn.BatchNorm2d(4)))[0], nn.GroupNorm)


def test_upsampling_mode_defaults_per_architecture():
    assert parse_config({}).model.upsample_mode == "bilinear"
    assert parse_config({"model": {"architecture": "resnet"}}).model.upsample_mode == "nearest"
    gan = build_gan(parse_config({"model": {"upsample": "nearest"}}), (1, 28, 28))
    assert gan.generator.blocks[0].layers[0].mode == "nearest"


def test_hinge_and_wasserstein_losses_by_hand_and_score_of_two_logits():
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-3.0], [0.0]])
    # relu(1 - 2) = 0, relu(1 - 0.5) = 0.5 ; relu(1 - 3) = 0, relu(1 + 0) = 1
    assert math.isclose(hinge_critic_loss(real, fake).item(), 0.25 + 0.5)
    assert math.isclose(hinge_generator_loss(one_score(fake)).item(), 1.5)
    real, fake = torch.tensor([[2.0], [4.0]]), torch.tensor([[1.0], [-1.0]])
    assert math.isclose(wasserstein_critic_loss(real, fake).item(), 0.0 - 3.0)
    assert torch.equal(one_score(torch.tensor([[1.0, 3.0]])), torch.tensor([2.0]))


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = w . x has gradient w everywhere: the penalty is weight * (||w|| - 1)^2.
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        critic[1].weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0]]))
    penalty = gradient_penalty(critic, torch.randn(8, 1, 2, 2), torch.randn(8, 1, 2, 2), weight=10.0)
    assert math.isclose(penalty.item(), 10.0 * (5.0 - 1.0) ** 2, rel_tol=1e-5)
    penalty.backward()  # create_graph: the penalty trains the critic's weights
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


@pytest.fixture
def image_folder(tmp_path):
    """40 random RGB/grayscale/RGBA images in nested folders, a text file and a corrupt JPEG."""
    root = tmp_path / "images"
    generator = torch.Generator().manual_seed(0)
    for i in range(40):
        folder = root / f"part{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (torch.rand(150, 140, 3, generator=generator) * 255).to(torch.uint8).numpy()
        image = Image.fromarray(pixels).convert(["RGB", "L", "RGBA"][i % 3])
        image.save(folder / f"img{i}.{'jpg' if i % 3 == 0 else 'png'}")
    (root / "README.txt").write_text("not an image")
    (root / "part0" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


@pytest.mark.slow
@pytest.mark.training
@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp"])
def test_debug_epoch_per_loss_on_an_image_folder(tmp_path, image_folder, loss):
    data = dict(dataset="ImageFolder", rootdir=str(image_folder), image_size=128, batch_size=4, num_workers=0)
    model = {"architecture": "resnet", "generator_base_c": 4, "discriminator_base_c": 4, "latent_size": 32}
    model |= {"spectral_norm": loss == "hinge", "self_attention": loss == "hinge"}
    optim = {"loss": loss, "critic_steps": 2, "critic_lr": 4e-4, "generator_lr": 1e-4}
    raw = debug_config(tmp_path, data=data, model=model, optim=optim, logging={"onnx_every": 0})
    with pytest.warns(UserWarning, match="skipped 1 files that are not images"):
        trainer = Trainer(parse_config(raw), quiet=True)
    assert trainer.critic_opt.defaults["lr"] == 4e-4 and trainer.gen_opt.defaults["lr"] == 1e-4
    run_dir = trainer.fit()
    assert (run_dir / "generator.onnx").is_file() and (run_dir / "samples" / "epoch_001.png").is_file()
    # The epoch's losses as fit logged them (a train_epoch() before fit() trained a second epoch).
    events = EventAccumulator(str(run_dir)).Reload()
    (critic_loss,), (generator_loss,) = events.Scalars("critic_loss"), events.Scalars("generator_loss")
    assert critic_loss.step == generator_loss.step == 1
    assert math.isfinite(critic_loss.value) and math.isfinite(generator_loss.value)
    if loss == "hinge":  # the ResNet run (spectral norm, attention) resumes from its checkpoint
        state = torch.load(run_dir / "checkpoint.pt", weights_only=False)
        raw["optim"]["nepochs"] = 2
        resumed = resume(run_dir, parse_config(raw), quiet=True)
        later = torch.load(resumed / "checkpoint.pt", weights_only=False)
        assert resumed == run_dir and (state["epoch"], later["epoch"]) == (1, 2)
        assert any(not torch.equal(state["gan"][k], later["gan"][k]) for k in state["gan"])
