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


def import_epoch_time():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import epoch_time
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return epoch_time


def test_epoch_time_smoke_run_prints_flops_and_rows():
    out = run_bench(
        "bench/epoch_time.py", "--device", "cpu", "--batch-size", "8", "--debug", "--epochs", "1",
        "--variants", "+ fused Adam", "--rootdir", str(FASHION),
    )  # fmt: skip
    assert "one step at batch 8: 15.0 GFLOP; an epoch of " in out
    row = next(line for line in out.splitlines() if line.startswith("+ fused Adam"))
    assert "s/epoch" in row and "TFLOP/s" in row and "critic loss" in row


def test_epoch_time_counts_exactly_the_passes_a_training_step_needs():
    """With G and D the forward FLOPs of generator and critic (Gf, Df: their first
    layers), a step is: critic step G (no grad) + D on real and fake + their backward
    (weight grads 2D, input grads 2(D - Df)); generator step G + D + D's input grads only
    (its weights are frozen) + G's backward (2G - Gf: z needs no gradient).
    So 4G - Gf + 8D - 2Df: a stray graph through G or gradients for frozen weights show."""
    import argparse

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ganlab_solution.trainer import Trainer

    epoch_time = import_epoch_time()
    args = argparse.Namespace(rootdir=str(FASHION), batch_size=8, debug=True, device="cpu")
    trainer = Trainer(epoch_time.bench_config(args), quiet=True)
    generator, critic = trainer.gan.generator, trainer.gan.discriminator

    def forward_flops(module: torch.nn.Module, *inputs: object) -> int:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            module(*inputs)
        return counter.get_total_flops()

    images = torch.randn(8, 1, 28, 28)
    G, Gf = (
        forward_flops(generator, None, 8),
        forward_flops(generator.project, torch.randn(8, generator.project[0].in_features)),
    )
    D, Df = forward_flops(critic, images), forward_flops(critic.blocks[0].layers[0], images)
    assert epoch_time.step_flops(trainer) == 4 * G - Gf + 8 * D - 2 * Df


def test_epoch_time_can_keep_upsampling_out_of_torch_compile():
    """The "compile, ATen upsampling" row: each nn.Upsample becomes a graph break, the
    compiled generator still equals the eager one, and the patch is undone afterwards."""
    import torch
    from torch import nn

    upsampling_outside_compile = import_epoch_time().upsampling_outside_compile
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
