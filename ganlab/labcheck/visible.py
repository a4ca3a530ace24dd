"""The visible checks of the notebooks: shapes, ranges, properties, and expected values worked out once from the
lab's definitions and written down here as numbers (no answer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from .core import approx, as_tensor, call, check, check_close, check_shape, fail


def check_to_unit_range_example(student: Callable[..., Any]) -> None:
    """The visible check of ``to_unit_range`` on a batch of 16 uint8 images: shape, dtype and range."""
    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    images[0, 0, 0, 0], images[0, 0, 0, 1] = 0, 255  # both ends of the pixel range
    x = call(student, "to_unit_range(images)", images)
    check_shape("to_unit_range(images) for 16 images", x, (16, 1, 28, 28))
    check(
        torch.is_tensor(x) and x.is_floating_point(),
        f"to_unit_range must return a float tensor, got {getattr(x, 'dtype', type(x).__name__)}: convert with "
        ".float() first",
    )
    low, high = x.min().item(), x.max().item()
    check(
        abs(low + 1) < 1e-5 and abs(high - 1) < 1e-5,
        f"to_unit_range maps pixels 0..255 to [{low:.3f}, {high:.3f}]; the lab wants exactly [-1, 1]: "
        "divide by 127.5, then subtract 1",
    )


def check_to_display_example(student: Callable[..., Any]) -> None:
    """The visible check of ``to_display`` on -1, 0 and 1."""
    y = call(student, "to_display(torch.tensor([-1.0, 0.0, 1.0]))", torch.tensor([-1.0, 0.0, 1.0]))
    check_close(
        "to_display([-1, 0, 1])", as_tensor(y, "to_display"), torch.tensor([0.0, 0.5, 1.0]), hint="use (x + 1) / 2"
    )


def check_pixel_range(generator: nn.Module, latent_size: int, what: str = "your generator") -> None:
    """The pixels fill the range [-1, 1] of the real images, and never leave it, for huge latents (which saturate
    every layer; small ones give pixels near 0 with or without the final Tanh)."""
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        out = as_tensor(call(generator, f"{what}(X, None)", 1e8 * torch.randn(6, latent_size), None), what)
    generator.train(was_training)
    low, high = out.min().item(), out.max().item()
    tanh = "end with a 1x1 convolution and nn.Tanh() so that images lie in [-1, 1] like the real ones (notebook 1)"
    check(
        low >= -1 and high <= 1,
        f"for very large latents {what}'s pixels range over [{approx(low)}, {approx(high)}], outside [-1, 1]: {tanh}",
    )
    check(
        high - low > 1,
        f"for very large latents {what}'s pixels only range over [{approx(low)}, {approx(high)}]: a generator "
        f"ending in Tanh reaches both ends of [-1, 1] there. {tanh} (a sigmoid gives [0, 1], not [-1, 1])",
    )


# The notebook's example logits, and what the lab's losses give on them (and what common mistakes give).
REAL_LOGITS = [[-1.0, 2.0], [0.5, 0.5]]
FAKE_LOGITS = [[1.5, -0.5], [0.0, 1.0]]
CRITIC_LOSS_EXAMPLE = 0.571280
GENERATOR_LOSS_EXAMPLE = 0.920475
CRITIC_LOSS_MISTAKES = {
    1.142561: "it is twice the lab's value: either the two terms are added without dividing by 2 (the lab takes "
    "their mean, (real + fake) / 2), or the BCE is summed over the two logit columns (the lab averages over every "
    "entry, as F.binary_cross_entropy_with_logits does by default)",
    2.285121: "it is four times the lab's value: the terms are added without dividing by 2, and the BCE is summed "
    "over the two logit columns; the lab takes the mean of the two terms, each averaged over every entry",
    1.071280: "the targets are swapped: real images take class 1, targets (0, 1), and fakes class 0, targets (1, 0)",
    0.691056: "it applies a sigmoid before the BCE with logits, which applies one itself: give it the raw logits",
    0.545481: "it uses cross-entropy (a softmax over the two logits): the lab uses the BCE with logits of each logit "
    "against one-hot targets, F.binary_cross_entropy_with_logits",
    0.472086: "it only has the real term: the lab's loss is the mean of the real and the fake terms",
    0.670475: "it only has the fake term: the lab's loss is the mean of the real and the fake terms",
    0.285640: "it is half the lab's value: the mean of the two terms is divided by 2 once more",
}
GENERATOR_LOSS_MISTAKES = {
    0.670475: "it uses the targets of fakes, (1, 0): the generator wants its images called real, targets (0, 1)",
    -0.670475: "it is minus the critic's loss on the fakes (the saturating loss): the lab's generator minimises the "
    "BCE of its images against 'real' targets (0, 1), the non-saturating loss",
    1.840950: "it is twice the lab's value: the BCE is summed over the two logit columns; the lab averages over every "
    "entry, as F.binary_cross_entropy_with_logits does by default",
    0.768103: "it applies a sigmoid before the BCE with logits, which applies one itself: give it the raw logits",
    1.220095: "it uses cross-entropy (a softmax over the two logits): the lab uses F.binary_cross_entropy_with_logits "
    "against the one-hot targets (0, 1)",
}


def loss_value(student: Callable[..., Any], what: str, *args: Any) -> torch.Tensor:
    """Call a loss and check it returns one number as a tensor."""
    loss = call(student, what, *args)
    check(
        torch.is_tensor(loss), f"{what} must return a tensor (so that .backward() works), got a {type(loss).__name__}"
    )
    check(
        loss.dim() == 0,
        f"{what} must return one number (a 0-d tensor), got shape {tuple(loss.shape)}: average over the batch",
    )
    return loss


CRITIC_LOSS_RECIPE = (
    "use BCE with logits (F.binary_cross_entropy_with_logits or nn.BCEWithLogitsLoss) against one-hot targets: "
    "class 1 ('real') for real images, class 0 ('fake') for generated ones, and take the mean of the two terms"
)
GENERATOR_LOSS_RECIPE = (
    "the generator wants its images classified 'real': BCE with logits against hard one-hot targets of "
    "class 1, (0, 1), and no label smoothing"
)


def named_mistake(got: float, mistakes: Iterable[tuple[float, str]], generic: str) -> str:
    """The messages of the known (value, message) mistakes whose value is ``got``, else ``generic``."""
    names = [message for value, message in mistakes if abs(got - value) < 1e-4 * max(1.0, abs(value))]
    return "; or ".join(names) if names else generic


def generator_loss_hint(
    student: Callable[..., Any], what: str, fake: torch.Tensor, got: float, mistakes: Iterable[tuple[float, str]]
) -> str:
    """Why a generator loss value ``got`` is wrong: random targets (a second call differs), or a known mistake."""
    if abs(loss_value(student, what, fake).item() - got) > 1e-6:
        return (
            "it changes from call to call (random targets?): the generator uses hard targets (0, 1), without "
            "label smoothing, which is only for the critic"
        )
    return named_mistake(got, mistakes, GENERATOR_LOSS_RECIPE)


def check_critic_loss_example(student: Callable[..., Any]) -> None:
    """The visible check of ``critic_loss`` on the notebook's example, with the known mistakes named."""
    got = loss_value(student, "critic_loss(r, f, 0.0)", torch.tensor(REAL_LOGITS), torch.tensor(FAKE_LOGITS), 0.0)
    got = got.item()
    check(
        abs(got - CRITIC_LOSS_EXAMPLE) < 1e-3,
        f"critic_loss(r, f, 0.0) on the example logits is {approx(got)}, the lab's is {approx(CRITIC_LOSS_EXAMPLE)}: "
        f"{named_mistake(got, CRITIC_LOSS_MISTAKES.items(), CRITIC_LOSS_RECIPE)}",
    )


def check_generator_loss_example(student: Callable[..., Any]) -> None:
    """The visible check of ``generator_loss`` on the notebook's example, with the known mistakes named."""
    fake = torch.tensor(FAKE_LOGITS)
    got = loss_value(student, "generator_loss(f)", fake).item()
    if abs(got - GENERATOR_LOSS_EXAMPLE) >= 1e-3:
        hint = generator_loss_hint(student, "generator_loss(f)", fake, got, GENERATOR_LOSS_MISTAKES.items())
        fail(
            f"generator_loss(f) on the example logits is {approx(got)}, the lab's is {approx(GENERATOR_LOSS_EXAMPLE)}: "
            f"{hint}"
        )


def generated(student: Callable[..., Any], what: str, *args: Any) -> np.ndarray:
    """What ``generate_images`` returns on ``args``, checked to be a NumPy array."""
    images = call(student, what, *args)
    check(
        isinstance(images, np.ndarray),
        f"{what} returns a {type(images).__module__}.{type(images).__name__}; the notebook asks for a NumPy array "
        "(what session.run returns): the cells below use it as one",
    )
    return images


def check_generate_images_example(student: Callable[..., Any], session: Any, latent: int) -> None:
    """The visible check of ``generate_images``: a NumPy array of 64 images in [-1, 1]."""
    z = np.random.default_rng(0).standard_normal((64, latent))
    images = generated(student, "generate_images(session, z)", session, z)
    check_shape("generate_images(session, z) for 64 latents", images, (64, 1, 28, 28))
    check(
        images.dtype == np.float32 and images.min() >= -1 - 1e-4 and images.max() <= 1 + 1e-4,  # Tanh's rounding
        f"generate_images returns {images.dtype} pixels in [{images.min():.3g}, {images.max():.3g}]: return the "
        "session's output itself, float32 pixels in [-1, 1]",
    )
