"""Does the CPU recipe learn for other seeds too? Trains configs/cpu_short.yaml per seed and judges each run.

CI trains seed 0 (tests/test_short_run.py); this trains other seeds with notebook 5's loop, about
half a minute each on two CPU cores, judged as the tests judge. Exit status 1 when a seed fails.

    python bench/recipe_seeds.py            # seeds 1 and 2, as CI checked them before
    python bench/recipe_seeds.py --seeds 3 4 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import numpy as np
import torch
from common import print_command

from ganlab.diagnostics import MAX_CRITIC_ACC, diagnose, sample_quality
from ganlab.recipes import cpu_short_config
from ganlab_solution.trainer import Trainer


def notebook_loop(trainer: Trainer) -> dict[str, list[float]]:
    """The recipe's epochs, one public ``Trainer.step`` per batch (critic step, generator step, EMA), without plots."""
    history: dict[str, list[float]] = {"critic_acc_real": [], "critic_acc_fake": []}
    trainer.gan.train()
    for _ in range(trainer.config.optim.nepochs):
        for real in trainer.batches():
            metrics = trainer.step(real)
            for key in history:
                history[key].append(metrics[key].item())
    return history


def judge(seed: int, logdir: str) -> tuple[list[str], str]:
    """Train the recipe with ``seed``; the problems found (empty for a run that learnt), and the samples' verdict."""
    trainer = Trainer(cpu_short_config(seed=seed, logging={"logdir": logdir}), quiet=True)
    history = notebook_loop(trainer)
    problems = [
        f"{key}: the critic won outright (mean of the last 50 steps {np.mean(values[-50:]):.2f})"
        for key, values in history.items()
        if np.mean(values[-50:]) >= MAX_CRITIC_ACC
    ]
    generator = trainer.harness.export_model().eval()
    with torch.no_grad():
        grid = generator(trainer.harness.fixed_noise, None)
        z = torch.randn(512, generator.latent_size, generator=torch.Generator().manual_seed(1))
        images = generator(z, None)
    verdict = diagnose(history, grid)
    if not verdict.healthy:
        problems.append(verdict.message)
    quality = sample_quality(images)
    problems += [f"samples: {shortfall}" for shortfall in quality.shortfalls()]
    return problems, quality.summary()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the recipe was tuned on 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print_command(__file__)
    failed = 0
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as logdir:
            problems, summary = judge(seed, logdir)
        failed += bool(problems)
        verdict = "learnt, no collapse" if not problems else "FAILED: " + "; ".join(problems)
        print(f"seed {seed}: {verdict} ({summary})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
