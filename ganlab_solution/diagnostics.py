"""The instructor's command-line verdict on an ONNX generator: ``python -m ganlab_solution.diagnostics MODEL.onnx``,
the student package's measures (:mod:`ganlab.diagnostics`) on samples of the generator file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ganlab.diagnostics import CHAPTER, LOW_SPREAD, sample_quality
from ganlab.errors import GanlabError

from .classifier import generated_samples


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ganlab_solution.diagnostics MODEL.onnx``: the classifier's verdict on its samples; exits 1 when
    they have collapsed (pixel spread below :data:`LOW_SPREAD`)."""
    parser = argparse.ArgumentParser(prog="python -m ganlab_solution.diagnostics", description=main.__doc__)
    parser.add_argument("model", help="generator .onnx file (Fashion-MNIST, 1x28x28)")
    parser.add_argument("-n", type=int, default=512, help="number of samples")
    args = parser.parse_args(argv)
    try:
        # The package's checked loader: a wrong image shape, fixed batch or NaN output is one clear error.
        quality = sample_quality(generated_samples(args.model, args.n))
    except GanlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"samples of {args.model}: {quality.summary()}")
    if quality.spread < LOW_SPREAD:
        print(
            f"error: the samples have collapsed (pixel spread {quality.spread:.2f} < {LOW_SPREAD}): see {CHAPTER}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
