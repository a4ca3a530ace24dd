"""The benchmark scripts still run (tiny settings, CPU): a broken bench is caught here, not in a note
(epoch_time.py and speedrun.py run whole in tests/test_gpu_run.py's dry run)."""

from __future__ import annotations

import math
import re

import pytest

from .helpers import bench_script, run_python

pytestmark = pytest.mark.slow


def run_bench(*args: str) -> str:
    result = run_python(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _ms(value: str) -> float:
    """A duration as torch.profiler's table prints it (``1.106s``, ``29.908ms``, ``426.088us``), in ms."""
    number, unit = re.fullmatch(r"([\d.]+)(s|ms|us)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"s": 1000.0, "ms": 1.0, "us": 0.001}[unit]


LATENCY = re.compile(
    r"batch\s+(\d+): PyTorch eager\s+([\d.]+) ms, onnxruntime\s+([\d.]+) ms \(([\d.]+)x faster\), "
    r"onnxruntime int8\s+([\d.]+) ms \(([\d.]+)x faster; mean \|int8 - float\| / mean \|float\| ([\d.]+)\)"
)


def test_generate_latency_compares_eager_float_and_int8():
    out = run_bench("bench/generate_latency.py", "--repeats", "8")
    assert out.startswith("command: python bench/generate_latency.py --repeats 8")
    rows = {int(m[1]): [float(v) for v in m.groups()[1:]] for m in LATENCY.finditer(out)}
    assert sorted(rows) == [1, 64], out
    for batch, (eager, ort, ort_speedup, int8, int8_speedup, error) in rows.items():
        assert all(math.isfinite(t) and t > 0 for t in (eager, ort, int8)), (batch, out)
        # The printed speed-ups are the ratios of the printed times (to their rounding).
        assert math.isclose(eager / ort, ort_speedup, rel_tol=0.01, abs_tol=0.01), (batch, out)
        assert math.isclose(eager / int8, int8_speedup, rel_tol=0.01, abs_tol=0.01), (batch, out)
        # The int8 model draws the same images to a few percent (0.03 measured), not noise.
        assert 0 < error < 0.1, (batch, out)


def test_profile_step_prints_the_step_time_and_its_kernels(fake_fashion):
    out = run_bench(
        "bench/profile_step.py", "--device", "cpu", "--batch-size", "8", "--steps", "2", "--rootdir", str(fake_fashion)
    )
    step = float(re.search(r"CPU time per step: ([\d.]+) ms", out)[1])  # type: ignore[index]
    total = _ms(re.search(r"Self CPU time total: (\S+)", out)[1])  # type: ignore[index]
    assert math.isfinite(step) and step > 0
    assert math.isclose(step * 2, total, rel_tol=0.01), "the step time is not the profile's total over 2 steps"
    rows = [line.split() for line in out.splitlines() if line.startswith(" ") and line.split()[0].startswith("aten::")]
    assert any(row[0] == "aten::convolution_backward" for row in rows), out
    shares = []
    for name, self_share, self_time, _, cpu_total, average, calls in (row[-7:] for row in rows):
        assert int(calls) > 0 and _ms(self_time) <= _ms(cpu_total) * 1.001, name
        # The average is the total over the calls, to the table's rounding.
        assert math.isclose(_ms(cpu_total) / int(calls), _ms(average), rel_tol=0.02, abs_tol=0.002), name
        assert math.isclose(_ms(self_time) / total * 100, float(self_share.rstrip("%")), abs_tol=0.05), name
        shares.append(float(self_share.rstrip("%")))
    assert 0 < sum(shares) <= 100.5


def test_epoch_time_counts_exactly_the_passes_a_training_step_needs(fake_fashion):
    """With G and D the forward FLOPs of generator and critic (Gf, Df: their first
    layers), a step is: critic step G (no grad) + D on real and fake + their backward
    (weight grads 2D, input grads 2(D - Df)); generator step G + D + D's input grads only
    (its weights are frozen) + G's backward (2G - Gf: z needs no gradient).
    So 4G - Gf + 8D - 2Df: a stray graph through G or gradients for frozen weights show."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ganlab_solution.trainer import Trainer

    epoch_time = bench_script("epoch_time")
    trainer = Trainer(epoch_time.bench_config(str(fake_fashion), 8, "cpu", debug=True), quiet=True)
    generator, critic = trainer.gan.generator, trainer.gan.discriminator

    def forward_flops(module: torch.nn.Module, *inputs: object) -> int:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            module(*inputs)
        return counter.get_total_flops()

    images = torch.randn(8, 1, 28, 28)
    G = forward_flops(generator, None, 8)
    Gf = forward_flops(generator.project, torch.randn(8, generator.project[0].in_features))
    D, Df = forward_flops(critic, images), forward_flops(critic.blocks[0].layers[0], images)
    assert epoch_time.step_flops(trainer) == 4 * G - Gf + 8 * D - 2 * Df


def test_epoch_time_can_keep_upsampling_out_of_torch_compile():
    """The "compile, ATen upsampling" row: each nn.Upsample becomes a graph break."""
    import torch
    from torch import nn

    upsampling_outside_compile = bench_script("epoch_time").upsampling_outside_compile
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
