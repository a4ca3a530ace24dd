"""Generator latency on CPU: onnxruntime against PyTorch eager, batch 1 and 64, side by side.

Both run the same weights: a seeded lab generator (1x28x28, latent 100, base 256, eval
mode), exported to ONNX by the package (which folds BatchNorm into the convolutions).
Same threads, median of many calls; the outputs are checked equal first.

    python bench/generate_latency.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganlab_solution.export import OnnxGenerator, export_generator
from ganlab_solution.models import Generator


def median_ms(fn, repeats: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"command: python {shlex.join(sys.argv)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    torch.manual_seed(0)
    torch_generator = Generator((1, 28, 28), 100, 256).eval()
    with tempfile.TemporaryDirectory() as tmp:
        ort_generator = OnnxGenerator(export_generator(torch_generator, Path(tmp) / "generator.onnx"))
    for batch in (1, 64):
        z = np.random.default_rng(0).standard_normal((batch, 100)).astype(np.float32)
        zt = torch.from_numpy(z)
        with torch.inference_mode():
            np.testing.assert_allclose(ort_generator(z), torch_generator(zt, None).numpy(), atol=1e-4)
            eager = median_ms(lambda zt=zt: torch_generator(zt, None), args.repeats // (1 if batch == 1 else 4))
        ort = median_ms(lambda z=z: ort_generator(z), args.repeats // (1 if batch == 1 else 4))
        print(
            f"batch {batch:3d}: onnxruntime {ort:7.3f} ms, PyTorch eager {eager:7.3f} ms, ratio eager/ort {eager / ort:.2f}x"
        )


if __name__ == "__main__":
    main()
