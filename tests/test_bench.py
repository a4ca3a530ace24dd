"""The benchmark scripts still run (tiny settings, CPU): a broken bench is caught here, not in a note."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import FASHION, ROOT

pytestmark = pytest.mark.slow


def run_bench(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_generate_latency_compares_eager_float_and_int8():
    out = run_bench("bench/generate_latency.py", "--repeats", "8")
    assert out.startswith("command: python bench/generate_latency.py --repeats 8")
    for batch in (1, 64):
        line = next(line for line in out.splitlines() if line.startswith(f"batch {batch:3d}:"))
        assert "PyTorch eager" in line and "onnxruntime int8" in line and "mean |int8 - float| / mean |float|" in line


def test_profile_step_prints_the_step_time_and_its_kernels():
    out = run_bench(
        "bench/profile_step.py", "--device", "cpu", "--batch-size", "8", "--steps", "1", "--rootdir", str(FASHION)
    )
    assert "CPU time per step:" in out and "aten::convolution_backward" in out


def test_epoch_time_can_keep_upsampling_out_of_torch_compile():
    """The "compile, ATen upsampling" row: each nn.Upsample becomes a graph break, the
    compiled generator still equals the eager one, and the patch is undone afterwards."""
    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from epoch_time import upsampling_outside_compile
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from ganlab_solution.models import Generator

    torch.manual_seed(0)
    generator, z = Generator((1, 28, 28), 16, 32), torch.randn(4, 16)
    expected = generator(z, None)
    original = nn.Upsample.forward
    with upsampling_outside_compile(True):
        explained = torch._dynamo.explain(generator)(z, None)
        torch._dynamo.reset()
        # aot_eager: the graph break is Dynamo's doing; no C++ compiler needed for Inductor on CPU
        compiled = torch.compile(generator, backend="aot_eager")(z, None)
    assert nn.Upsample.forward is original
    assert explained.graph_break_count >= 1
    assert all("disable" in str(reason.reason) for reason in explained.break_reasons)
    torch.testing.assert_close(compiled, expected)
