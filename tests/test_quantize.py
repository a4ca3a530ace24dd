"""The int8 copy of a generator: its graph, its images and its command (its errors: tests/test_cli_errors.py)."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest

from ganlab_solution.export import OnnxGenerator
from ganlab_solution.quantize import float_end_nodes, quantize_generator

from .helpers import SHIPPED_ONNX


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    return quantize_generator(SHIPPED_ONNX, tmp_path_factory.mktemp("int8") / "g.int8.onnx")


def test_convolutions_are_int8_and_the_ends_stay_float(quantized):
    graph = onnx.load(str(quantized)).graph
    ops = [node.op_type for node in graph.node]
    convs = [node for node in graph.node if node.op_type == "Conv"]
    weight_from_dequantize = {out for node in graph.node if node.op_type == "DequantizeLinear" for out in node.output}
    quantized_convs = [conv.name for conv in convs if conv.input[1] in weight_from_dequantize]
    assert ops.count("QuantizeLinear") >= 4, ops
    assert len(quantized_convs) == len(convs) - 1, f"expected every conv but the last in int8, got {quantized_convs}"
    last_conv = convs[-1]
    assert last_conv.name in float_end_nodes(SHIPPED_ONNX) and last_conv.name not in quantized_convs
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(int8_weights) == len(quantized_convs)


def test_int8_images_stay_close_to_the_float_ones(quantized):
    z = np.random.default_rng(5).standard_normal((128, 100)).astype(np.float32)
    ref, out = OnnxGenerator(SHIPPED_ONNX)(z), OnnxGenerator(quantized)(z)
    assert out.shape == ref.shape == (128, 1, 28, 28) and np.abs(ref).max() <= 1 + 1e-6
    error = np.abs(out - ref)
    # About one grey level on average (2/255 = 0.008 on [-1, 1]); no image far off.
    assert error.mean() < 0.02, error.mean()
    assert error.reshape(128, -1).mean(axis=1).max() < 0.05


def test_quantize_cli_writes_beside_the_model_and_generate_reads_it(tmp_path, cli):
    model = tmp_path / "generator.onnx"
    shutil.copy(SHIPPED_ONNX, model)
    result = cli("quantize", str(model), "--calibration", "100", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    int8 = tmp_path / "generator.int8.onnx"
    assert f"wrote {int8}" in result.stdout and "mean |int8 - float|" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator.int8.onnx", "generator.onnx"]
    result = cli("generate", str(int8), "-n", "16", "-o", str(tmp_path / "grid.png"), "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "grid.png").stat().st_size > 0
