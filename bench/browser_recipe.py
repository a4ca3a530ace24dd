"""The "Watch a GAN learn" page's training loop in PyTorch, to tune the page's RECIPE on a CPU.

Twin of book/train_live_src/train_live.js and dcgan.js (same data order, steps, Adam and EMA; other random
numbers). At each checkpoint: sample_quality of the EMA generator on the page's 512 fixed latents, and the
critic's accuracies over the last 50 steps; several --ema decays are judged in one run (0: the generator
itself). Defaults: the page's RECIPE; the recipe before it (650 steps) is --critic-lr 2e-4 --generator-lr 1e-3
--dropout 0.5 --ema 0.99.

    python bench/browser_recipe.py [--steps 150 300] [--seeds 0 1 2] [--ema 0.95 0.9 0]
                                   [--critic-lr 1.2e-3] [--generator-lr 6e-3] [--dropout 0.25] ...
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import torch
from common import print_command

from ganlab.classifier import load_classifier
from ganlab.config import FASHION_MNIST_ROOT
from ganlab.data import load_images
from ganlab.diagnostics import MAX_CRITIC_ACC, MIN_CLASSES, MIN_CONFIDENT, critic_pinned, sample_quality
from ganlab.harness import EMA, FAKE, REAL, count_parameters, init_weights
from ganlab_solution.losses import critic_accuracy, critic_loss, generator_loss
from ganlab_solution.models import Discriminator, Generator

IMAGES, SAMPLES, LATENT_SEED, SHUFFLE_XOR = 10_000, 512, 20240611, 0x5BD1E995
# The page's RECIPE (train_live.js; beta1: dcgan.js's fixed 0.5), the defaults: change both together.
RECIPE = {"critic-width": 16, "generator-width": 64, "latent-size": 100, "batch": 32, "critic-lr": 1.2e-3,
          "generator-lr": 6e-3, "beta1": 0.5, "lblsmooth": 0.2, "dnoise": 0.2, "dropout": 0.25, "ema": 0.95}  # fmt: skip


def mulberry32(seed: int):
    """book/common_src/seeded_random.js's generator (the page's uniform numbers in [0, 1)), as an iterator."""
    a, m = seed & 0xFFFFFFFF, 0xFFFFFFFF
    while True:
        a = (a + 0x6D2B79F5) & m
        t = ((a ^ (a >> 15)) * (a | 1)) & m
        t = (t ^ (t + (((t ^ (t >> 7)) * (t | 61)) & m))) & m
        yield (t ^ (t >> 14)) / 4294967296


def fixed_latents(n: int, size: int) -> torch.Tensor:
    """The page's fixed latents: ganlabRandom.normal (Box-Muller) over Mulberry32(20240611)."""
    rand, z = mulberry32(LATENT_SEED), []
    while len(z) < n * size:
        r, v = math.sqrt(-2 * math.log(max(next(rand), 1e-12))), next(rand)
        z += [r * math.cos(2 * math.pi * v), r * math.sin(2 * math.pi * v)]
    return torch.tensor(z[: n * size], dtype=torch.float32).view(n, size)


def page_batches(images: torch.Tensor, batch: int, seed: int):
    """Batches in the page's order (newEpoch, nextBatch): a Fisher-Yates shuffle per epoch."""
    rand = mulberry32(seed ^ SHUFFLE_XOR)
    while True:
        order = list(range(len(images)))
        for i in range(len(order) - 1, 0, -1):
            j = math.floor(next(rand) * (i + 1))
            order[i], order[j] = order[j], order[i]
        for at in range(0, len(order) - batch + 1, batch):
            yield images[order[at : at + batch]]


def train(a: argparse.Namespace, seed: int, images: torch.Tensor, classifier: torch.nn.Module) -> dict:
    """One run; {(step, ema): (quality, critic's mean accuracy on real, on fake, pinned)}."""
    torch.manual_seed(seed)
    critic = Discriminator((1, 28, 28), a.dropout, a.critic_width, a.dnoise, 2).apply(init_weights)
    generator = Generator((1, 28, 28), a.latent_size, a.generator_width).apply(init_weights)
    opt_c = torch.optim.Adam(critic.parameters(), lr=a.critic_lr, betas=(a.beta1, 0.999), eps=1e-8)
    opt_g = torch.optim.Adam(generator.parameters(), lr=a.generator_lr, betas=(a.beta1, 0.999), eps=1e-8)
    emas = {d: EMA(generator, d) for d in a.ema if d > 0}
    for ema in emas.values():
        ema.update()  # the first update copies: the page's EMA starts from the initial weights
    z_fixed, acc, out = fixed_latents(SAMPLES, a.latent_size), ([], []), {}
    for step, real in zip(range(1, max(a.steps) + 1), page_batches(images, a.batch, seed)):
        with torch.no_grad():
            fake = generator(torch.randn(a.batch, a.latent_size), None)
        real_logits, fake_logits = critic(real), critic(fake)
        opt_c.zero_grad()
        critic_loss(real_logits, fake_logits, a.lblsmooth).backward()
        opt_c.step()
        acc[0].append(critic_accuracy(real_logits.detach(), REAL).item())
        acc[1].append(critic_accuracy(fake_logits.detach(), FAKE).item())
        critic.requires_grad_(False)
        opt_g.zero_grad()
        generator_loss(critic(generator(torch.randn(a.batch, a.latent_size), None))).backward()
        opt_g.step()
        critic.requires_grad_(True)
        for ema in emas.values():
            ema.update()
        for decay in a.ema if step in a.steps else []:
            sampler = emas[decay].module if decay > 0 else generator
            with torch.no_grad():
                quality = sample_quality(sampler.eval()(z_fixed, None), classifier)
            generator.train()
            out[step, decay] = (quality, np.mean(acc[0][-50:]), np.mean(acc[1][-50:]), critic_pinned(*acc))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[150, 300], help="checkpoints (steps)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ema", type=float, nargs="+", default=[RECIPE["ema"]], help="EMA decays to judge (0: none)")
    for name, default in [(k, v) for k, v in RECIPE.items() if k != "ema"]:
        p.add_argument(f"--{name}", type=type(default), default=default, help=f"default {default} (the page's)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    print_command(__file__, argv)
    images = load_images("FashionMNIST", FASHION_MNIST_ROOT)[:IMAGES].float() / 127.5 - 1
    classifier = load_classifier().eval()
    critic = Discriminator((1, 28, 28), 0, a.critic_width, 0, 2)
    generator = Generator((1, 28, 28), a.latent_size, a.generator_width)
    print(f"parameters: critic {count_parameters(critic):,}, generator {count_parameters(generator):,}")
    print("seed  step   ema  confident  classes  largest  spread  critic acc real/fake  pinned  seconds")
    meets = dict.fromkeys(a.ema, True)
    for seed in a.seeds:
        start = time.perf_counter()
        result = train(a, seed, images, classifier)
        seconds = time.perf_counter() - start
        for (step, decay), (q, real, fake, pinned) in sorted(result.items()):
            print(f"{seed:4d}  {step:4d}  {decay:4g}  {q.confident:8.1%}  {q.classes_seen:7d}  "
                  f"{q.histogram.max():7.0%}  {q.spread:6.2f}  {real:9.2f} / {fake:.2f}  {pinned!s:>11}  {seconds:7.1f}")  # fmt: skip
            if step == max(a.steps):
                ok = q.confident >= MIN_CONFIDENT and q.classes_seen >= MIN_CLASSES
                meets[decay] &= ok and not pinned and max(real, fake) < MAX_CRITIC_ACC
    for decay, ok in meets.items():
        print(f"ema {decay:g}, every seed at step {max(a.steps)}: {'meets' if ok else 'MISSES'} the bounds (>= "
              f"{MIN_CONFIDENT:.0%} confident, >= {MIN_CLASSES} classes, critic accuracy < {MAX_CRITIC_ACC})")  # fmt: skip
    return 0 if all(meets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
