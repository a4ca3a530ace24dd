"""Hidden checks of notebook 4: the GAN, the losses, the optimizers and the two training steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.labcheck.core import (
    _construct,
    _run,
    approx,
    as_tensor,
    call,
    changed,
    check,
    check_close,
    check_shape,
    fail,
    largest_change,
)
from ganlab.labcheck.remote import STAND_INS
from ganlab.labcheck.visible import (
    CRITIC_LOSS_MISTAKES,
    CRITIC_LOSS_RECIPE,
    GENERATOR_LOSS_MISTAKES,
    generator_loss_hint,
    loss_value,
    named_mistake,
)


def _pair(gan: nn.Module, what: str, *inputs: Any) -> Any:
    result = _run(gan, what, *inputs)
    check(isinstance(result, (tuple, list)) and len(result) == 2, f"{what} must return the pair (logits, images)")
    return result


def check_gan_forward(student_cls: type) -> None:
    """Hidden checks of ``GAN.forward``: both modes, the logits are the critic's on the returned images."""
    for img_shape in ((1, 28, 28), (3, 32, 32)):
        torch.manual_seed(0)
        gan = _construct(lambda img_shape=img_shape: student_cls(img_shape, 0.0, 8, 0.0, 2, 16, 32), f"GAN{img_shape}")
        gan.eval()
        real = torch.rand(5, *img_shape) * 2 - 1
        with torch.no_grad():
            logits, images = _pair(gan, "gan(X, None)", real, None)
            check_shape("the logits of gan(X, None) for 5 real images", logits, (5, 2))
            check(
                torch.is_tensor(images) and torch.equal(images, real),
                "gan(X, None) must return the real images X themselves as its second output",
            )
            check_close(
                "the logits of gan(X, None)", logits, gan.discriminator(real), hint="they are the critic's logits on X"
            )
            logits, images = _pair(gan, "gan(None, 7)", None, 7)
            check_shape(
                "the images of gan(None, 7)",
                images,
                (7, *img_shape),
                hint="generate batch_size images with the generator",
            )
            check_shape("the logits of gan(None, 7)", logits, (7, 2))
            check_close(
                "the logits of gan(None, 7)",
                logits,
                gan.discriminator(images),
                hint="they must be the critic's logits on the very images you return",
            )
        gan.train()
        logits, images = call(gan, "gan(None, 4) in training mode", None, 4)
        check(
            torch.is_tensor(images) and images.requires_grad and torch.is_tensor(logits) and logits.requires_grad,
            "gan(None, batch_size) returns images without a gradient graph (generated under torch.no_grad(), or "
            "detached): generator_step (4.7) trains the generator through this very call, so generate with "
            "gradients; only critic_step detaches the fakes",
        )


def check_smooth_targets(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``smooth_targets``: shape, one-hot without smoothing, one draw per sample."""
    labels = torch.tensor([0, 1, 1, 0, 2])
    hard = as_tensor(call(student, "smooth_targets([0, 1, 1, 0, 2], 3, 0.0)", labels, 3, 0.0), "smooth_targets")
    check_close("smooth_targets([0, 1, 1, 0, 2], 3, 0.0)", hard, reference(labels, 3, 0.0))
    torch.manual_seed(0)
    n, amount = 4000, 0.3
    labels = torch.randint(0, 2, (n,))
    targets = call(student, f"smooth_targets(labels, 2, {amount})", labels, 2, amount)
    # Reseeding inside the function makes every call draw the same values, whatever came before.
    draws = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        call(student, f"smooth_targets(labels, 2, {amount})", labels[:8], 2, amount)
        draws.append(torch.rand(4))
    check(
        not torch.equal(draws[0], draws[1]),
        "smooth_targets resets PyTorch's global random generator (torch.manual_seed inside the function?): every "
        "batch of the training would then get the same draws, and so would everything random after it. Draw with "
        "torch.rand and leave the seed alone: the notebook seeds once, at the top",
    )
    check(torch.is_tensor(targets) and targets.is_floating_point(), "smooth_targets must return a float tensor")
    check_shape(f"smooth_targets(labels of shape ({n},), 2, {amount})", targets, (n, 2))
    rows = torch.arange(n)
    true = targets[rows, labels]
    other = targets[rows, 1 - labels]
    check(bool((other == 0).all()), "only the true class's entry may be smoothed: the other entries stay 0")
    check(
        bool((true >= 1 - amount - 1e-6).all()) and bool((true <= 1 + 1e-6).all()),
        f"with lblsmooth={amount} the true-class entries must lie in [{1 - amount:.1f}, 1]; yours range over "
        f"[{approx(true.min().item())}, {approx(true.max().item())}]",
    )
    check(
        true.unique().numel() > n // 2,
        "every target row must get its own random draw (torch.rand of shape (B,)), not one value for the whole batch",
    )
    check(
        abs(true.mean().item() - (1 - amount / 2)) < 0.02,
        f"the true-class entries should be 1 - u with u uniform in [0, lblsmooth]: their mean is "
        f"{approx(true.mean().item())}, expected about {1 - amount / 2:.2f}",
    )


def _bce(logits: torch.Tensor, cls: int, target: float = 1.0) -> torch.Tensor:
    targets = torch.zeros_like(logits)
    targets[:, cls] = target
    return F.binary_cross_entropy_with_logits(logits, targets)


def critic_loss_mistakes(real: torch.Tensor, fake: torch.Tensor) -> list[tuple[float, str]]:
    """Known wrong critic losses (no smoothing) on ``real`` and ``fake`` logits: (value, the message of
    :data:`CRITIC_LOSS_MISTAKES`, in its order); a value matching several mistakes is explained by all of them."""
    sum_columns = 0.5 * (2 * _bce(real, 1) + 2 * _bce(fake, 0))
    cross_entropy = 0.5 * (
        F.cross_entropy(real, torch.ones(len(real), dtype=torch.long))
        + F.cross_entropy(fake, torch.zeros(len(fake), dtype=torch.long))
    )
    values = [
        sum_columns,
        2 * sum_columns,
        0.5 * (_bce(real, 0) + _bce(fake, 1)),  # swapped targets
        0.5 * (_bce(torch.sigmoid(real), 1) + _bce(torch.sigmoid(fake), 0)),
        cross_entropy,
        _bce(real, 1),
        _bce(fake, 0),
        0.25 * (_bce(real, 1) + _bce(fake, 0)),  # halved once more
    ]
    return list(zip((v.item() for v in values), CRITIC_LOSS_MISTAKES.values(), strict=True))


def generator_loss_mistakes(fake: torch.Tensor) -> list[tuple[float, str]]:
    """Known wrong generator losses on ``fake`` logits: (value, the message of :data:`GENERATOR_LOSS_MISTAKES`)."""
    values = [
        _bce(fake, 0),
        -_bce(fake, 0),
        2 * _bce(fake, 1),
        _bce(torch.sigmoid(fake), 1),
        F.cross_entropy(fake, torch.ones(len(fake), dtype=torch.long)),
    ]
    return list(zip((v.item() for v in values), GENERATOR_LOSS_MISTAKES.values(), strict=True))


def _expected_smoothed(real: torch.Tensor, fake: torch.Tensor, amount: float, sides: str) -> float:
    """The critic loss's expected value with the targets' "1" lowered by ``amount`` / 2 on ``sides`` (the BCE is
    linear in the targets: its mean over random draws is its value at the mean target)."""
    smoothed = 1 - amount / 2
    real_term = _bce(real, 1, smoothed if "real" in sides else 1.0)
    return (0.5 * (real_term + _bce(fake, 0, smoothed if "fake" in sides else 1.0))).item()


def _check_backward(student: Callable[..., Any], name: str, batches: int, *extra: Any, message: str) -> None:
    """A gradient flows from ``student(*batches of logits, *extra)`` back to each batch of logits."""
    logits = [torch.randn(4, 2, requires_grad=True) for _ in range(batches)]
    try:
        student(*logits, *extra).backward()
    except Exception as error:  # e.g. a loss computed outside torch: no graph to go back through
        fail(f"{name}(...).backward() fails: {type(error).__name__}: {str(error)[:200]}")
    check(all(x.grad is not None and bool(x.grad.abs().sum() > 0) for x in logits), message)


def check_critic_loss(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``critic_loss`` against the reference, without and with label smoothing."""
    torch.manual_seed(1)
    for nreal, nfake in ((6, 6), (1, 1), (32, 32)):
        real, fake = 2 * torch.randn(nreal, 2), 2 * torch.randn(nfake, 2)
        got = loss_value(student, "critic_loss", real, fake, 0.0)
        expected = reference(real.clone(), fake.clone(), 0.0)
        check(
            abs(got.item() - expected.item()) < 1e-4,
            f"critic_loss on {nreal} real and {nfake} fake logit pairs (no smoothing) is {approx(got.item())}; the lab's "
            f"is {approx(expected.item())}: "
            f"{named_mistake(got.item(), critic_loss_mistakes(real, fake), CRITIC_LOSS_RECIPE)}",
        )
    _check_backward(
        student,
        "critic_loss",
        2,
        0.0,
        message="no gradient flows from your critic_loss back to both logit batches: compute it with torch "
        "operations, without .item(), .detach() or numpy",
    )
    # Smoothing is random: compare the average over many draws with the expected value of each way to smooth. The
    # grader lends critic_loss a smooth_targets that gives its expected value (judge.py): then two calls agree, and
    # one is the average.
    real, fake = 4 * torch.randn(64, 2), 4 * torch.randn(64, 2)
    amount = 0.4
    values = [loss_value(student, "critic_loss", real, fake, amount).detach() for _ in range(2)]
    if not torch.equal(values[0], values[1]):
        values += [loss_value(student, "critic_loss", real, fake, amount).detach() for _ in range(198)]
    mean = torch.stack(values).mean().item()
    ways = {"both": "real fake", "the real term only": "real", "the fake term only": "fake", "neither term": ""}
    sides = {side: _expected_smoothed(real, fake, amount, which) for side, which in ways.items()}
    closest = min(sides, key=lambda side: abs(sides[side] - mean))
    recipe = "smooth the targets of both terms, smooth_targets(labels, 2, lblsmooth) for the reals and for the fakes"
    if closest != "both" and abs(sides[closest] - mean) < 0.01:
        fail(f"with lblsmooth={amount} your critic_loss smooths the targets of {closest}: {recipe}")
    check(
        abs(mean - sides["both"]) < 0.01,
        f"with lblsmooth={amount} your critic_loss averages {approx(mean)} over many calls; the lab's averages "
        f"{approx(sides['both'])}: {recipe}",
    )


def check_generator_loss(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``generator_loss`` against the reference."""
    torch.manual_seed(2)
    for n in (1, 5, 64):
        fake = 2 * torch.randn(n, 2)
        got = loss_value(student, "generator_loss", fake)
        expected = reference(fake.clone())
        check(
            abs(got.item() - expected.item()) < 1e-4,
            f"generator_loss on {n} fake logit pairs is {approx(got.item())}; the lab's is {approx(expected.item())}: "
            f"{generator_loss_hint(student, 'generator_loss', fake, got.item(), generator_loss_mistakes(fake))}",
        )
    _check_backward(
        student, "generator_loss", 1, message="no gradient flows from your generator_loss back to the logits"
    )


def _param_ids(params: Any) -> set[int]:
    return {id(p) for p in params}


def check_optimizers(student: Callable[..., Any]) -> None:
    """Hidden checks of ``make_optimizers``: types, betas, learning rate, weight decay, who owns which parameters."""
    from ganlab_solution.models import GAN

    gan = GAN((1, 28, 28), discriminator_base_c=8, generator_base_c=32)
    every_id = _param_ids(gan.parameters())
    for lr, wdecay in ((2e-4, 0.0), (1e-3, 0.01)):
        result = call(student, f"make_optimizers(gan, {lr}, {wdecay})", gan, lr, wdecay)
        check(
            isinstance(result, (tuple, list)) and len(result) == 2,
            "make_optimizers must return (critic_optimizer, generator_optimizer)",
        )
        for optimizer, name, network in zip(result, ("critic", "generator"), ("discriminator", "generator")):
            ids = _param_ids(getattr(gan, network).parameters())
            check(
                isinstance(optimizer, torch.optim.Optimizer),
                f"the {name} optimizer is a {type(optimizer).__name__}, not a torch optimizer",
            )
            owned = set().union(*(_param_ids(group["params"]) for group in optimizer.param_groups))
            check(
                not (owned & (every_id - ids)),
                f"the {name} optimizer also holds the other network's parameters: give it gan.{network}.parameters() only",
            )
            check(owned == ids, f"the {name} optimizer must hold all the {name}'s parameters and only them")
            for group in optimizer.param_groups:
                check(
                    tuple(group.get("betas", ())) == (0.5, 0.999),
                    f"the {name} optimizer uses betas {group.get('betas')}; the lab uses (0.5, 0.999)",
                )
                check(
                    abs(group["lr"] - lr) < 1e-12,
                    f"the {name} optimizer's learning rate is {group['lr']}, not base_lr={lr}",
                )
        critic_opt, generator_opt = result
        if wdecay > 0:
            check(
                isinstance(critic_opt, torch.optim.AdamW)
                and all(abs(g["weight_decay"] - wdecay) < 1e-12 for g in critic_opt.param_groups),
                f"with wdecay={wdecay} the critic's optimizer must be torch.optim.AdamW(..., weight_decay=wdecay)",
            )
        else:
            check(
                type(critic_opt) is torch.optim.Adam,
                f"with wdecay=0 the critic's optimizer must be torch.optim.Adam, got {type(critic_opt).__name__}",
            )
        check(
            type(generator_opt) is torch.optim.Adam and all(g["weight_decay"] == 0 for g in generator_opt.param_groups),
            "the generator's optimizer must be torch.optim.Adam without weight decay",
        )


# The small GAN the step trials run on: no dropout and no instance noise, so the steps' only randomness is the
# latent draw. The kernel builds it by name (ganlab.labcheck.remote.step_trial) with the weights sent from here.
_GAN = "ganlab_solution.models:GAN"
_SMALL = ((1, 28, 28), 0.0, 8, 0.0, 2, 16, 32)


def _small_gan() -> nn.Module:
    from ganlab_solution.models import GAN

    torch.manual_seed(0)
    return GAN(*_SMALL)


def _step_trial(
    student: Callable[..., Any],
    what: str,
    gan: nn.Module,
    trains: str,
    lr: float,
    stale: float | None,
    steps: int,
    *args: Any,
) -> tuple[dict, nn.Module]:
    """What the step trial observed (``remote.step_trial``) of ``steps`` steps on a copy of ``gan`` (``gan`` itself
    stays as it was, the weights before), and a GAN with the weights after them."""
    recipe = {"network": _GAN, "init": _SMALL, "state": dict(gan.state_dict()), "trains": trains, "lr": lr,
              "stale": stale, "steps": steps}  # fmt: skip
    observed = call(student, what, recipe, *args)
    seen = observed["seen"]
    if not (isinstance(seen, list) and all(type(size) is int for size in seen)):
        raise ValueError("batch sizes that are not a list of numbers")  # a forged reply: nothing to judge
    after = _small_gan()
    after.load_state_dict(observed["state"])  # a state of other names or shapes is refused here
    return observed, after


def check_critic_step(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``critic_step`` on what its trials observed: zero_grad, no gradient into the generator, a
    step that lowers the (stand-in) critic loss. ``reference`` is not needed: the checks judge effects."""
    gan = _small_gan()
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    # Stale gradients of 1000 left on the critic: with zero_grad they are gone before backward.
    observed, after = _step_trial(
        student, "critic_step(gan, optimizer, real_images, 0.0)", gan, "discriminator", 1.0, 1000.0, 1, real, 0.0
    )
    value, seen = observed["returned"], observed["seen"]
    n = len(real)
    check(
        not (2 * n in seen and n not in seen),
        f"critic_step scores one mixed batch of {2 * n} images (reals and fakes together): the lab scores the "
        f"{n} real images and the {n} fakes in two separate calls of the critic, so that BatchNorm's statistics "
        "are those of one kind of image at a time",
    )
    other = [size for size in seen if size != n]
    check(
        not other,
        f"critic_step scores batches of {', '.join(map(str, other))} images for {n} real images: generate as many "
        "fakes as there are real images (real_images.shape[0]), and score each batch once",
    )
    check(
        not seen or len(seen) >= 2,  # no call seen: the critic was called through .forward, no hook fired
        f"critic_step calls the critic {len(seen)} time(s): score the real images and the fakes, one call each",
    )
    check(
        isinstance(value, float),
        f"critic_step must return the loss as a Python float (loss.item()), got a {type(value).__name__}",
    )
    check(
        changed(gan.discriminator, after.discriminator),
        "critic_step did not change the critic: call loss.backward() then optimizer.step()",
    )
    check(
        largest_change(gan.discriminator, after.discriminator) < 100,
        "critic_step kept the gradients of earlier steps: call optimizer.zero_grad() before loss.backward() "
        "(PyTorch adds new gradients to the old ones)",
    )
    check(
        not changed(gan.generator, after.generator),
        "critic_step changed the generator: step the critic's optimizer only",
    )
    check(
        observed["generator_grads"] is not True,
        "gradients reached the generator during the critic step: generate the fakes under torch.no_grad() "
        "(or .detach() them) before the critic scores them",
    )
    # The step must go down the critic's loss: on fixed real and fake batches, the loss falls.
    loss = STAND_INS["critic_loss"]  # the loss the kernel lends critic_step in the trials
    gan = _small_gan()
    with torch.no_grad():
        fakes = gan.generator(torch.randn(32, 16)).clone()
        before = loss(gan.discriminator(real), gan.discriminator(fakes), 0.0).item()
    _, gan = _step_trial(student, "critic_step", gan, "discriminator", 0.05, None, 3, real, 0.0)
    with torch.no_grad():
        after = loss(gan.discriminator(real), gan.discriminator(fakes), 0.0).item()
    check(
        after < before,
        f"three critic steps raised the critic's loss from {approx(before)} to {approx(after)}: the critic must "
        "minimise critic_loss(real logits, fake logits) (real images labelled real, fakes labelled fake)",
    )


def check_generator_step(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``generator_step`` on what its trials observed: zero_grad, the critic untouched, a step that
    fools the critic more (the stand-in generator loss falls). ``reference`` is not needed: the checks judge effects."""
    gan = _small_gan()
    observed, after = _step_trial(student, "generator_step(gan, optimizer, 32)", gan, "generator", 1.0, 1000.0, 1, 32)
    value = observed["returned"]
    check(
        isinstance(value, float),
        f"generator_step must return the loss as a Python float (loss.item()), got a {type(value).__name__}",
    )
    check(
        changed(gan.generator, after.generator),
        "generator_step did not change the generator: score gan(None, batch_size) without detaching the images, "
        "then loss.backward() and optimizer.step()",
    )
    check(
        largest_change(gan.generator, after.generator) < 100,
        "generator_step kept the gradients of earlier steps: call optimizer.zero_grad() before loss.backward()",
    )
    check(
        not changed(gan.discriminator, after.discriminator),
        "generator_step changed the critic's weights: step the generator's optimizer only",
    )
    # The step must go down the generator's loss: the critic finds the same latents more real afterwards.
    loss = STAND_INS["generator_loss"]  # the loss the kernel lends generator_step in the trials
    gan = _small_gan()
    with torch.no_grad():  # a critic with an opinion: DCGAN's N(0, 0.02) start gives logits near 0 for everything
        for p in gan.discriminator.parameters():
            if p.ndim > 1:
                p.normal_(0, 0.1)
    z = torch.randn(256, 16)
    with torch.no_grad():
        before = loss(gan.discriminator(gan.generator(z))).item()
    _, gan = _step_trial(student, "generator_step", gan, "generator", 0.05, None, 3, 64)
    with torch.no_grad():
        after = loss(gan.discriminator(gan.generator(z))).item()
    check(
        after < before,
        f"three generator steps raised the generator's loss from {approx(before)} to {approx(after)}: the generator "
        "must minimise generator_loss on the critic's logits of its images (targets 'real')",
    )
