"""The training harness: trains any critic and generator with the step functions it is given.

:func:`training_step` is the lab's iteration, which the engine (:mod:`ganlab.trainer`), notebook 5 and the
site all train through; :class:`Harness` wraps it for a notebook (history, grids, checkpoints, a budget).
It holds no answer of the lab: the networks, losses, optimizers and steps are the caller's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import CHECKPOINT, load_checkpoint, load_state_dicts, rng_state, save_checkpoint, set_rng_state
from .grids import image_grid
from .plots import show_training

REAL, FAKE = 1, 0  # class indices of the critic's two logits
GRID_SIZE = 64  # the fixed-latent grid is 8x8
Metrics = dict[str, Any]
StepResult = Metrics | float | torch.Tensor


class EMA:
    """An exponential moving average of a network's weights and BatchNorm buffers (``module``, to sample from)."""

    def __init__(self, network: nn.Module, decay: float) -> None:
        self.network = network
        self.averaged = torch.optim.swa_utils.AveragedModel(
            network, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay), use_buffers=True
        )

    @property
    def module(self) -> nn.Module:
        """The averaged network."""
        return self.averaged.module

    def update(self) -> None:
        self.averaged.update_parameters(self.network)


def one_score(logits: torch.Tensor) -> torch.Tensor:
    """One "realness" number per image: the single output of a hinge or Wasserstein critic, or the
    margin real - fake of the lab's two logits."""
    return logits[:, 0] if logits.shape[1] == 1 else logits[:, REAL] - logits[:, FAKE]


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016), as ``gan.apply(init_weights)``: weights from N(0, 0.02),
    BatchNorm scales from N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _as_metrics(result: StepResult, name: str) -> Metrics:
    """A step's result as a dict: a bare loss (what notebook 4's steps return) becomes ``{name: loss}``."""
    return dict(result) if isinstance(result, dict) else {name: result}


def training_step(
    real: torch.Tensor,
    critic_step: Callable[[torch.Tensor], StepResult],
    generator_step: Callable[[int], StepResult],
    ema: EMA | None = None,
    train_generator: bool = True,
) -> Metrics:
    """One iteration of the lab: critic step on ``real``, generator step on as many fakes, EMA step (each step
    returns its loss or a dict of metrics); ``train_generator`` False skips the generator and EMA."""
    metrics = _as_metrics(critic_step(real), "critic_loss")
    if train_generator:
        metrics.update(_as_metrics(generator_step(real.shape[0]), "generator_loss"))
        if ema is not None:
            ema.update()
    return metrics


def batches(
    loader: Iterable[Any], device: torch.device | str, on_unreadable: Callable[[int], None] | None = None
) -> Iterator[torch.Tensor]:
    """Real batches of a loader on ``device``; streamed loaders' counts of unreadable files go to ``on_unreadable``."""
    for batch in loader:
        if isinstance(batch, tuple):
            batch, unreadable = batch
            if on_unreadable is not None:
                on_unreadable(unreadable)
            if batch.shape[0] == 0:
                continue
        yield batch.to(device, non_blocking=True)


class LogitRecorder:
    """Records a critic's outputs during one step (a forward hook), to read its accuracies: the call whose input
    is the real batch itself gives the real logits, a later one on as many images the fake ones."""

    def __init__(self, critic: nn.Module) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.handle = critic.register_forward_hook(self._hook)

    def _hook(self, _module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        if inputs and torch.is_tensor(inputs[0]) and torch.is_tensor(output):
            self.calls.append((inputs[0], output.detach()))

    def accuracies(self, real: torch.Tensor, accuracy: Callable[[torch.Tensor, int], Any]) -> Metrics:
        """``critic_acc_real`` and ``critic_acc_fake`` of the calls recorded since the last time, where found."""
        calls, self.calls = self.calls, []
        real_logits = [out for inp, out in calls if inp is real]
        fake_logits = [out for inp, out in calls if inp is not real and inp.shape[0] == real.shape[0]]
        metrics: Metrics = {}
        if real_logits:
            metrics["critic_acc_real"] = accuracy(real_logits[0], REAL)
        if fake_logits:
            metrics["critic_acc_fake"] = accuracy(fake_logits[-1], FAKE)
        return metrics

    def remove(self) -> None:
        self.handle.remove()


class Harness:
    """Trains a GAN (``gan.discriminator``, and ``gan.generator(z, None)`` mapping latents to images) with the
    steps it is given: ``critic_step(real)`` and ``generator_step(batch_size)`` each update one network and return
    its loss or a dict of metrics; ``loader`` yields real batches in [-1, 1] (re-iterated for each epoch);
    ``critic_accuracy(logits, cls)`` (notebook 5's), if given, is read on the critic's outputs of each critic step;
    ``ema_decay`` > 0 keeps an EMA of the generator, which grids and exports use; ``run_dir`` receives checkpoints
    and TensorBoard events (nothing is written without one), with the ``optimizers`` (name -> optimizer);
    ``latent_size`` and ``seed`` make the fixed latents of the grid."""

    def __init__(
        self,
        gan: nn.Module,
        critic_step: Callable[[torch.Tensor], StepResult],
        generator_step: Callable[[int], StepResult],
        loader: Iterable[torch.Tensor],
        latent_size: int,
        critic_accuracy: Callable[[torch.Tensor, int], Any] | None = None,
        ema_decay: float = 0.0,
        run_dir: str | Path | None = None,
        optimizers: dict[str, torch.optim.Optimizer] | None = None,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self.gan = gan
        self.critic_step, self.generator_step = critic_step, generator_step
        self.loader = loader
        self.critic_accuracy = critic_accuracy
        self.ema = EMA(gan.generator, ema_decay) if ema_decay > 0 else None
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.optimizers = optimizers or {}
        self.device = torch.device(device)
        self.fixed_noise = torch.randn(GRID_SIZE, latent_size, generator=torch.Generator().manual_seed(seed))
        self.history: dict[str, list[float]] = {}
        self.step = 0
        self.seconds = 0.0
        self._writer: Any = None

    # -- training -------------------------------------------------------------------
    def _record(self, metrics: Metrics) -> None:
        for key, value in metrics.items():
            value = float(value.detach().float().item() if torch.is_tensor(value) else value)
            self.history.setdefault(key, []).append(value)

    def _iterate(self) -> Iterator[torch.Tensor]:
        while True:
            produced = False
            for real in batches(self.loader, self.device):
                produced = True
                yield real
            if not produced:
                raise ValueError("the loader yields no batch: check the dataset and the batch size")

    def fit(
        self,
        steps: int,
        seconds: float | None = None,
        every: int = 50,
        on_progress: Callable[[Harness], None] | None = None,
    ) -> dict[str, list[float]]:
        """Train ``steps`` more iterations, or until ``seconds`` have passed, whichever comes first; returns the
        history (one value per step for each metric). Every ``every`` steps and at the end ``on_progress(self)`` runs
        (e.g. :meth:`show`), and with a run folder the TensorBoard scalars and a checkpoint are written."""
        recorder = LogitRecorder(self.gan.discriminator) if self.critic_accuracy is not None else None
        start, target = time.perf_counter(), self.step + steps
        self.gan.train()
        try:
            for real in self._iterate():
                if self.step >= target or (seconds is not None and time.perf_counter() - start >= seconds):
                    break
                metrics = training_step(real, self.critic_step, self.generator_step, self.ema)
                if recorder is not None:  # what the steps return themselves wins
                    for key, value in recorder.accuracies(real, self.critic_accuracy).items():
                        metrics.setdefault(key, value)
                self._record(metrics)
                self.step += 1
                if self.step % every == 0:
                    self._checkpoint_and_show(on_progress)
        finally:
            if recorder is not None:
                recorder.remove()
            self.seconds += time.perf_counter() - start
        self._checkpoint_and_show(on_progress)
        return self.history

    def _checkpoint_and_show(self, on_progress: Callable[[Harness], None] | None) -> None:
        if self.run_dir is not None:
            self._log_tensorboard()
            save_checkpoint(self.run_dir / CHECKPOINT, self.checkpoint())
        if on_progress is not None:
            on_progress(self)
            self.gan.train()

    # -- what a person looks at -----------------------------------------------------
    def export_model(self) -> nn.Module:
        """The generator to sample from and export: the EMA copy when there is one."""
        return self.ema.module if self.ema is not None else self.gan.generator

    @torch.no_grad()
    def samples(self, latents: torch.Tensor | None = None) -> torch.Tensor:
        """Images of the fixed latents (or of ``latents``) from :meth:`export_model`, in evaluation mode."""
        generator = self.export_model()
        was_training = generator.training
        generator.eval()
        z = (self.fixed_noise if latents is None else latents).to(self.device)
        images = generator(z, None).float().cpu()
        generator.train(was_training)
        return images

    def sample_grid(self) -> torch.Tensor:
        """The 8x8 grid of the fixed latents, (C, H, W) in [0, 1]."""
        return image_grid(self.samples(), nrow=8)

    def steps_per_second(self) -> float:
        """Training speed so far."""
        return self.step / self.seconds if self.seconds > 0 else math.nan

    def show(self) -> None:
        """Draw the losses, the critic's accuracies and the fixed-latent grid (in a notebook)."""
        show_training(self.history, self.sample_grid(), self.step)

    # -- files ----------------------------------------------------------------------
    def _log_tensorboard(self) -> None:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir))
        for key, values in self.history.items():
            if values:
                self._writer.add_scalar(key, values[-1], self.step)
        self._writer.add_image("samples", self.sample_grid(), self.step)
        self._writer.flush()

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to go on training: networks, EMA, optimizers, step, history, random states."""
        return {
            "step": self.step,
            "gan": self.gan.state_dict(),
            "ema_generator": self.ema.averaged.state_dict() if self.ema is not None else None,
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "fixed_noise": self.fixed_noise,
            "history": self.history,
            "rng": rng_state(),
        }

    def resume(self, path: str | Path, needed: Iterable[str] = ()) -> dict[str, Any]:
        """Go on from a checkpoint of :meth:`checkpoint` (same networks and optimizers); returns it. ``needed``: keys
        the caller's checkpoints add (the trainer's ``epoch``), checked with the others."""
        path = Path(path)
        keys = {"step", "gan", "optimizers", "fixed_noise", "history", "rng", *needed}
        state = load_checkpoint(path, keys, self.device)
        pairs: list[tuple[Any, Any]] = [(self.gan, state["gan"])]
        pairs += [(opt, state["optimizers"][name]) for name, opt in self.optimizers.items()]
        if self.ema is not None and state.get("ema_generator") is not None:
            pairs.append((self.ema.averaged, state["ema_generator"]))
        load_state_dicts(path, pairs)
        self.step, self.fixed_noise, self.history = state["step"], state["fixed_noise"], state["history"]
        set_rng_state(state["rng"])
        return state
