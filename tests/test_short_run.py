"""The CPU short run (configs/cpu_short.yaml, trained once by conftest.py's ``recipe_run``) learns garments without
collapsing, judged by the critic's accuracies, the samples' spread and the shipped classifier, never by wall time;
the fast tests pin the judges on the shipped generator. Other seeds (minutes each): ``python bench/recipe_seeds.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ganlab.config import load_config
from ganlab.data import load_images
from ganlab.diagnostics import LOW_SPREAD, MAX_CRITIC_ACC, critic_pinned, diagnose, pixel_spread, sample_quality
from ganlab.recipes import CPU_SHORT, cpu_short_config
from ganlab_solution.data import to_unit_range
from ganlab_solution.export import OnnxGenerator

from .helpers import FASHION, ROOT, SHIPPED_ONNX, marked, run_python

judges_the_recipe = marked("slow", "dataset", "training")


def check_samples(images: torch.Tensor) -> None:
    """The samples look like several kinds of garments to the classifier, and differ."""
    quality = sample_quality(images)
    assert not quality.shortfalls(), f"{quality.shortfalls()}: {quality.summary()}"


def shipped_samples(n: int) -> torch.Tensor:
    """``n`` images of the shipped 80-epoch generator: varied garments, with no dataset at hand."""
    generator = OnnxGenerator(SHIPPED_ONNX)
    z = np.random.default_rng(0).standard_normal((n, generator.latent_size)).astype(np.float32)
    return torch.from_numpy(generator(z))


def test_configs_cpu_short_is_the_package_recipe():
    assert load_config(ROOT / "configs" / "cpu_short.yaml") == load_config(CPU_SHORT) == cpu_short_config()
    config = cpu_short_config(seed=3, logging={"logdir": "/tmp/x"})
    assert (config.seed, config.logging.logdir, config.optim.ema) == (3, "/tmp/x", cpu_short_config().optim.ema)
    # The lab's GPU settings are not the recipe.
    assert load_config(ROOT / "configs" / "fashionmnist.yaml").model.generator_base_c == 256


def test_diagnose_tells_collapse_from_a_healthy_run():
    real = shipped_samples(64)  # varied, as a healthy run's samples are
    healthy = {"critic_acc_real": [0.8] * 60, "critic_acc_fake": [0.7] * 60}
    pinned = {"critic_acc_real": [0.8] * 10 + [1.0] * 50, "critic_acc_fake": [0.9] * 10 + [1.0] * 50}
    assert critic_pinned(pinned["critic_acc_real"], pinned["critic_acc_fake"])
    assert not critic_pinned(healthy["critic_acc_real"], healthy["critic_acc_fake"])
    assert not critic_pinned([1.0] * 10, [1.0] * 10)  # too few steps to judge

    verdict = diagnose(healthy, real)
    assert verdict.healthy and verdict.message.startswith("healthy")

    black = -torch.ones(64, 1, 28, 28) + 0.01 * torch.rand(64, 1, 28, 28)
    assert pixel_spread(black) < LOW_SPREAD
    for history, samples in ((pinned, real), (healthy, black), (pinned, black)):
        verdict = diagnose(history, samples)
        assert not verdict.healthy
        assert "book/lab/05_training.md" in verdict.message and "What to try" in verdict.message
    assert "critic tells every real image" in diagnose(pinned, real).message
    assert "barely differ" in diagnose(healthy, black).message


def test_classifier_judges_the_shipped_generator_and_a_collapsed_batch():
    samples = shipped_samples(512)
    quality = sample_quality(samples)
    # The model card's figures for this generator: 68% confident, every class.
    assert 0.5 < quality.confident < 0.9 and quality.classes_seen == 10, quality.summary()
    check_samples(samples)
    collapsed = sample_quality(samples[:1].repeat(512, 1, 1, 1))
    assert collapsed.classes_seen == 1 and collapsed.spread == 0.0
    # One image 512 times: no spread, one class holding everything (confident or not, by the image).
    shortfalls = collapsed.shortfalls()
    assert "pixel spread 0.00 < 0.3" in shortfalls and "1 classes < 5" in shortfalls
    assert "largest class 100% > 50%" in shortfalls


@pytest.mark.dataset
def test_classifier_judges_real_images():
    real = to_unit_range(load_images("FashionMNIST", FASHION, train=False)[:512])
    quality = sample_quality(real)
    assert quality.confident > 0.7 and quality.classes_seen == 10
    check_samples(real)


@judges_the_recipe
def test_recipe_run_is_the_demo_config_and_finished(recipe_run: Path) -> None:
    config = load_config(recipe_run / "config.yaml")
    assert config.model_dump(exclude={"logging"}) == load_config(CPU_SHORT).model_dump(exclude={"logging"})
    checkpoint = torch.load(recipe_run / "checkpoint.pt", weights_only=False)
    assert checkpoint["epoch"] == config.optim.nepochs == 1


@judges_the_recipe
def test_the_demos_check_says_the_run_draws_garments(recipe_run: Path) -> None:
    """``python -m ganlab_solution.diagnostics MODEL``, the last step of ``scripts/demo.sh``."""
    checked = run_python("-m", "ganlab_solution.diagnostics", str(recipe_run / "generator.onnx"), timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "recognised with confidence" in checked.stdout


@judges_the_recipe
def test_the_critic_never_won_outright(recipe_run: Path) -> None:
    events = EventAccumulator(str(recipe_run)).Reload()
    # The epoch's mean training accuracies (the evaluation-mode valid_acc_* swing with the
    # critic's BatchNorm statistics: 0.09 to 0.98 in healthy runs, so they judge nothing here).
    for key in ("critic_acc_real", "critic_acc_fake"):
        assert events.Scalars(key)[-1].value < MAX_CRITIC_ACC, f"{key}: the critic won outright"


@judges_the_recipe
def test_the_recipes_generator_draws_varied_garments(recipe_run: Path) -> None:
    generator = OnnxGenerator(recipe_run / "generator.onnx")
    z = torch.randn(512, generator.latent_size, generator=torch.Generator().manual_seed(0))
    check_samples(torch.from_numpy(generator(z)))
