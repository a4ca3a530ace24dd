"""Generator latency on CPU: onnxruntime (float32 and int8) against PyTorch eager, side by side.

All run one seeded lab generator (eval mode), its ONNX export and its int8 copy (``python -m
ganlab_solution quantize``): medians at batch 1 and 64, float outputs checked equal first.

    python bench/generate_latency.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common import print_command

from ganlab_solution.export import OnnxGenerator, export_generator
from ganlab_solution.models import Generator
from ganlab_solution.quantize import quantize_generator


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls of ``fn``, after 5 warm-up calls."""
    return statistics.median(timeit.repeat(fn, number=1, repeat=repeats + 5)[5:]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print_command(__file__)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    torch.manual_seed(0)
    torch_generator = Generator((1, 28, 28), 100, 256).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generator.onnx"
        export_generator(torch_generator, str(path))
        ort_generator = OnnxGenerator(path)
        int8_generator = OnnxGenerator(quantize_generator(path))
    for batch in (1, 64):
        z = np.random.default_rng(0).standard_normal((batch, 100)).astype(np.float32)
        zt = torch.from_numpy(z)
        repeats = args.repeats // (1 if batch == 1 else 4)
        with torch.inference_mode():
            np.testing.assert_allclose(ort_generator(z), torch_generator(zt, None).numpy(), atol=1e-4)
            eager = median_ms(lambda zt=zt: torch_generator(zt, None), repeats)
        ort = median_ms(lambda z=z: ort_generator(z), repeats)
        int8 = median_ms(lambda z=z: int8_generator(z), repeats)
        # Relative to the float images' own size: an untrained generator's pixels are all near 0.
        reference = ort_generator(z)
        error = np.abs(int8_generator(z) - reference).mean() / np.abs(reference).mean()
        print(
            f"batch {batch:3d}: PyTorch eager {eager:7.3f} ms, onnxruntime {ort:7.3f} ms ({eager / ort:.2f}x faster), "
            f"onnxruntime int8 {int8:7.3f} ms ({eager / int8:.2f}x faster; mean |int8 - float| / mean |float| {error:.3f})"
        )


if __name__ == "__main__":
    main()
