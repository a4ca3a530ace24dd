"""labcheck's own behaviour, in process: what a check refuses, what it lets through, and what it says (the
pieces the grading round of tests/test_grading.py relies on, in seconds)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganlab_solution import labcheck, losses, models
from ganlab_solution.models import count_parameters


def test_the_package_reexports_every_check() -> None:
    for name in ("CheckFailed", "own_work", "call", "check_critic_step", "check_generator", "check_generate_images"):
        assert hasattr(labcheck, name), name


def test_call_gives_private_copies_and_names_the_crash() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0])
    out = labcheck.call(lambda t: t.add_(1).div_(2), "to_display(x)", x)
    assert torch.equal(x, torch.tensor([-1.0, 0.0, 1.0])) and torch.equal(out, torch.tensor([0.0, 0.5, 1.0]))
    with pytest.raises(labcheck.CheckFailed, match=r"critic\(X\) fails: RuntimeError"):
        labcheck.call(lambda t: torch.nn.Linear(3, 2)(t.reshape(2, 2)), "critic(X)", torch.zeros(4))


def test_check_close_names_nan_instead_of_a_distance() -> None:
    with pytest.raises(labcheck.CheckFailed, match="NaN") as failure:
        labcheck.check_close("to_display(x)", torch.tensor([float("nan"), 1.0]), torch.tensor([0.0, 1.0]))
    assert "up to nan" not in str(failure.value)


def test_own_work_lets_package_helpers_through_and_refuses_imported_and_execd_reference_code() -> None:
    def export_generator(generator, path):  # noqa: ANN001, ANN202
        print(count_parameters(generator), path)

    labcheck.own_work(export_generator, "Your export_generator")
    with pytest.raises(labcheck.CheckFailed, match="reference package"):
        labcheck.own_work(losses.critic_loss, "Your critic_loss")
    source = Path(importlib.util.find_spec("ganlab_solution.losses").origin).read_text()
    namespace: dict = {"__name__": "student"}
    exec(source, namespace)  # what a student can do with the installed package's source
    with pytest.raises(labcheck.CheckFailed, match="reference package"):
        labcheck.own_work(namespace["critic_loss"], "Your critic_loss")


def test_critic_loss_summed_over_columns_is_told_both_causes_of_a_factor_two() -> None:
    def summed(real, fake, lblsmooth):  # noqa: ANN001, ANN202
        real_t = losses.smooth_targets(torch.ones(len(real), dtype=torch.long), 2, lblsmooth)
        fake_t = losses.smooth_targets(torch.zeros(len(fake), dtype=torch.long), 2, lblsmooth)
        bce = F.binary_cross_entropy_with_logits
        return (
            bce(real, real_t, reduction="none").sum(1).mean() + bce(fake, fake_t, reduction="none").sum(1).mean()
        ) / 2

    with pytest.raises(labcheck.CheckFailed, match="summed over the two logit columns") as failure:
        labcheck.check_critic_loss_example(summed)
    assert "without dividing by 2" in str(failure.value)


def test_smooth_targets_that_reseeds_is_caught() -> None:
    def reseeding(labels, num_classes, lblsmooth):  # noqa: ANN001, ANN202
        torch.manual_seed(0)
        return losses.smooth_targets(labels, num_classes, lblsmooth)

    labcheck.check_smooth_targets(losses.smooth_targets)
    with pytest.raises(labcheck.CheckFailed, match="global random generator"):
        labcheck.check_smooth_targets(reseeding)


def test_generator_latents_on_the_cpu_and_a_missing_range_are_named() -> None:
    class OnCpu(models.Generator):
        def forward(self, X, batch_size=None):  # noqa: ANN001, ANN202
            return super().forward(torch.randn(batch_size, self.latent_size) if X is None else X)

    torch.manual_seed(0)
    labcheck.check_latents(models.Generator((1, 28, 28), 16, 32), 16)
    with pytest.raises(labcheck.CheckFailed, match="on the CPU"):
        labcheck.check_latents(OnCpu((1, 28, 28), 16, 32), 16)
    generator = models.Generator((1, 28, 28), 16, 32)
    labcheck.check_pixel_range(generator, 16)
    generator.to_image[1] = torch.nn.Identity()  # no Tanh
    with pytest.raises(labcheck.CheckFailed, match="Tanh"):
        labcheck.check_pixel_range(generator, 16)
