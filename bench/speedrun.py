"""DCGAN speedrun: wall time from the start of training until the generator's FID first reaches a target.

Every ``--eval-every`` steps the generator (its EMA copy if any) is scored with the package's FID.
The clock starts before the data is loaded (loading, graph capture and compilation count) and
pauses while scoring. GPU options are dropped on a CPU.

    python bench/speedrun.py [--fid-target 15] [--eval-every 422] [--set optim.ema=0.999 ...]
        [--json speedrun.json] [--grid samples.png] [--onnx best_generator.onnx]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from common import add_run_arguments, apply_sets, print_command
from torch import nn

from ganlab.config import Config
from ganlab.data import to_uint8
from ganlab.errors import GanlabError
from ganlab.files import atomic_write
from ganlab.trainer import resolve_device
from ganlab_solution.export import export_generator
from ganlab_solution.fid import InceptionFeatures, frechet_distance, real_statistics, statistics
from ganlab_solution.trainer import Trainer

GPU_OPTIONS = ("amp", "channels_last", "cuda_graph", "compile")

# The recipe before --set: the shipped generator's (configs/fashionmnist_shipped.yaml)
# with CUDA graphs instead of torch.compile, whose minute of compilation would count.
RECIPE: dict[str, dict[str, Any]] = {
    "data": {"dataset": "FashionMNIST", "batch_size": 256, "valid_ratio": 0.0},
    "optim": {
        "base_lr": 0.0002,
        "lblsmooth": 0.2,
        "nepochs": 100_000,  # unused: the run stops on the FID or a budget
        "ema": 0.999,
        "amp": True,
        "channels_last": True,
        "cuda_graph": True,
        "compile": False,
    },
    "model": {"discriminator_base_c": 32, "generator_base_c": 256, "dnoise": 0.1, "dropout": 0.5},
    "logging": {"logdir": "/tmp/ganlab-speedrun", "onnx_every": 0},
}


def build_config(overrides: list[str], device: str, rootdir: str) -> tuple[Config, list[str]]:
    """The recipe with ``section.key=value`` overrides; returns it and the GPU options dropped on a CPU."""
    raw: dict[str, Any] = {**copy.deepcopy(RECIPE), "device": device}
    raw["data"]["rootdir"] = rootdir
    apply_sets(raw, overrides)
    dropped = []
    if resolve_device(device).type != "cuda":
        dropped = [name for name in GPU_OPTIONS if raw["optim"].get(name)]
        raw["optim"].update(dict.fromkeys(GPU_OPTIONS, False))
    return Config.model_validate(raw), dropped


class FidScore:
    """The package's FID of a generator: ``n`` samples (fixed latents) against ``n`` test images."""

    def __init__(self, rootdir: str, n: int, device: torch.device, latent_size: int, batch_size: int = 500) -> None:
        self.features = InceptionFeatures(device=str(device), batch_size=batch_size)
        self.real = real_statistics("FashionMNIST", rootdir, n, train=False, features=self.features, cache_dir=None)
        self.latents = torch.randn(n, latent_size, generator=torch.Generator().manual_seed(0))
        self.device = device

    @torch.no_grad()
    def __call__(self, generator: nn.Module) -> float:
        was_training = generator.training
        generator.eval()  # BatchNorm's running statistics, as the exported generator uses
        images = torch.cat(
            [to_uint8(generator(z.to(self.device), None).float()).cpu() for z in self.latents.split(1000)]
        )
        generator.train(was_training)
        return frechet_distance(*statistics(self.features(images, desc="FID")), *self.real)


class TrainingClock:
    """Seconds of training, paused while scoring; ``sync`` charges queued GPU work to the phase that queued it."""

    def __init__(self, now: Callable[[], float] = time.perf_counter, sync: Callable[[], None] = lambda: None) -> None:
        self.now, self.sync = now, sync
        self.total = 0.0
        self.since: float | None = None

    def start(self) -> None:
        self.since = self.now()

    def pause(self) -> float:
        self.sync()
        assert self.since is not None, "pause() before start()"
        self.total += self.now() - self.since
        self.since = None
        return self.total

    resume = start


@dataclass
class Evaluation:
    step: int
    epoch: float
    train_seconds: float
    fid: float
    eval_seconds: float
    critic_loss: float
    generator_loss: float


@dataclass
class Result:
    """What a run measured; ``seconds_to_target`` is None when the target was not reached."""

    target: float
    curve: list[Evaluation] = field(default_factory=list)
    seconds_to_target: float | None = None
    steps: int = 0
    train_seconds: float = 0.0
    stopped_by: str = ""

    @property
    def eval_seconds(self) -> float:
        return sum(e.eval_seconds for e in self.curve)


def run(
    config: Config,
    score: Callable[[nn.Module], float],
    *,
    target: float,
    eval_every: int,
    max_steps: int | None = None,
    max_train_seconds: float | None = None,
    keep_going: bool = False,
    clock: TrainingClock | None = None,
    on_evaluation: Callable[[Result, Trainer, nn.Module], None] = lambda result, trainer, generator: None,
) -> tuple[Result, Trainer]:
    """Train ``config``, scoring the generator every ``eval_every`` steps, until the target or a budget.

    ``keep_going`` trains on past the target; ``on_evaluation`` runs after each evaluation, clock paused.
    """
    if clock is None:
        cuda = resolve_device(config.device).type == "cuda"
        clock = TrainingClock(sync=torch.cuda.synchronize if cuda else lambda: None)
    result = Result(target=target)
    clock.start()
    trainer = Trainer(config, quiet=True)  # loads the data: inside the clock
    trainer.gan.train()
    per_epoch = len(trainer.loaders.train)
    metrics: dict[str, torch.Tensor] = {}
    step = 0
    while True:
        for real in trainer.loaders.train:
            metrics = trainer.step(real)
            step += 1
            out_of_steps = max_steps is not None and step >= max_steps
            if step % eval_every and not out_of_steps:
                continue
            result.steps, result.train_seconds = step, clock.pause()
            begin = time.perf_counter()
            generator = trainer.harness.export_model()
            fid = float(score(generator))
            losses = {k: float(metrics[k]) if k in metrics else float("nan") for k in ("critic_loss", "generator_loss")}
            evaluation = Evaluation(
                step, step / per_epoch, result.train_seconds, fid, time.perf_counter() - begin, **losses
            )
            result.curve.append(evaluation)
            reached = fid <= target and result.seconds_to_target is None
            if reached:
                result.seconds_to_target = result.train_seconds
            on_evaluation(result, trainer, generator)
            out_of_time = max_train_seconds is not None and result.train_seconds >= max_train_seconds
            if (reached and not keep_going) or out_of_steps or out_of_time:
                result.stopped_by = "target" if reached and not keep_going else "steps" if out_of_steps else "time"
                return result, trainer
            clock.resume()


def describe(result: Result) -> str:
    """The result in one line."""
    spent = f"{result.steps} steps, {result.train_seconds:.2f} s of training, {result.eval_seconds:.1f} s of evaluation"
    if result.seconds_to_target is None:
        best = min((e.fid for e in result.curve), default=float("nan"))
        return f"FID {result.target:g} NOT reached (best {best:.2f}; {spent}; stopped by {result.stopped_by})"
    first = next(e for e in result.curve if e.fid <= result.target)
    return (
        f"FID {result.target:g} reached after {result.seconds_to_target:.2f} s of training "
        f"(step {first.step}, epoch {first.epoch:.2f}, FID {first.fid:.2f}); {spent}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, batch_size=False)
    parser.add_argument("--fid-target", type=float, default=15.0, help="stop at the first FID at most this")
    parser.add_argument("--fid-samples", type=int, default=10_000, help="generated samples and test images")
    parser.add_argument("--fid-batch", type=int, default=500, help="Inception batch size")
    parser.add_argument("--eval-every", type=int, default=422, help="training steps between evaluations")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--max-train-seconds", type=float, default=120.0)
    parser.add_argument("--keep-going", action="store_true", help="train on past the target until a budget")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json", type=Path, help="write the command, recipe and curve here after every evaluation")
    parser.add_argument("--grid", type=Path, help="save an 8x8 grid of the final generator's samples (PNG)")
    parser.add_argument("--onnx", type=Path, help="export the generator of the best evaluation to ONNX")
    args = parser.parse_args(argv)
    if args.eval_every < 1 or args.fid_samples < 2:
        parser.error("--eval-every must be at least 1, --fid-samples at least 2")
    try:
        config, dropped = build_config(args.set, args.device, args.rootdir)
    except (GanlabError, ValueError) as exc:
        print(f"error: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    device = resolve_device(config.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    recipe = {
        "data": config.data.model_dump(include={"dataset", "batch_size", "valid_ratio", "debug"}),
        "optim": config.optim.model_dump(),
        "model": config.model.model_dump(include={"discriminator_base_c", "generator_base_c", "dnoise", "dropout"}),
        "seed": config.seed,
    }
    command = print_command(__file__, argv)
    print(f"device: {name}, torch {torch.__version__}")
    print(f"recipe: {json.dumps(recipe)}")
    if dropped:
        print(f"on the CPU, without: {', '.join(dropped)}")
    begin = time.perf_counter()
    score = FidScore(args.rootdir, args.fid_samples, device, config.model.latent_size, args.fid_batch)
    print(f"FID: {args.fid_samples} samples vs test images, Inception ready in {time.perf_counter() - begin:.1f} s")
    best: dict[str, Any] = {}

    def report(result: Result, trainer: Trainer, generator: nn.Module) -> None:
        e = result.curve[-1]
        print(
            f"step {e.step:6d}  epoch {e.epoch:6.2f}  train {e.train_seconds:8.2f} s  FID {e.fid:7.2f}  "
            f"(eval {e.eval_seconds:.1f} s; losses critic {e.critic_loss:.3f}, generator {e.generator_loss:.3f})",
            flush=True,
        )
        if args.onnx and e.fid < best.get("fid", float("inf")):
            best.update(fid=e.fid, step=e.step, generator=copy.deepcopy(generator))
        write_json(result)

    def write_json(result: Result) -> None:
        """The command, recipe and curve so far, rewritten after every evaluation (a run cut short keeps its curve)."""
        if not args.json:
            return
        payload = {"command": command, "device": name, "torch": torch.__version__, "recipe": recipe,
                   "fid_samples": args.fid_samples, "eval_every": args.eval_every,
                   **asdict(result), "eval_seconds": result.eval_seconds}  # fmt: skip
        atomic_write(args.json, lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))

    result, trainer = run(
        config,
        score,
        target=args.fid_target,
        eval_every=args.eval_every,
        max_steps=args.max_steps,
        max_train_seconds=args.max_train_seconds,
        keep_going=args.keep_going,
        on_evaluation=report,
    )
    write_json(result)
    if args.grid:
        from torchvision.utils import save_image

        save_image(trainer.harness.sample_grid(), str(args.grid))
    if args.onnx and best:
        export_generator(best["generator"], args.onnx)
        print(f"best generator (step {best['step']}, FID {best['fid']:.2f}) exported to {args.onnx}")
    print(describe(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
