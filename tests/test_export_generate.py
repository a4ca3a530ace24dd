"""ONNX export and the generate/interpolate commands."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.errors import GanlabError
from ganlab_solution.export import OnnxGenerator, export_generator
from ganlab_solution.generate import line_latents, plane_latents
from ganlab_solution.models import Discriminator, Generator

from .helpers import SHIPPED_ONNX


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    generator = Generator((1, 28, 28), 100, 256)
    generator.train()  # exporting must switch to eval mode, then back
    path = tmp_path_factory.mktemp("onnx") / "g.onnx"
    export_generator(generator, str(path))
    assert generator.training
    assert sorted(p.name for p in path.parent.iterdir()) == ["g.onnx"]  # one self-contained file
    return generator, path


@pytest.mark.parametrize("batch", [1, 7, 64])  # one file, any batch size
def test_onnx_has_the_labs_names_and_matches_pytorch_in_eval_mode(exported, batch):
    generator, path = exported
    onnx_generator = OnnxGenerator(path)
    (inp,), (out,) = onnx_generator.get_inputs(), onnx_generator.get_outputs()
    assert inp.name == "input" and onnx_generator.latent_size == 100 and not isinstance(inp.shape[0], int)
    assert out.name == "output" and out.shape[1:] == [1, 28, 28]
    z = torch.randn(batch, 100)
    with torch.no_grad():
        expected = generator.eval()(z, None).numpy()
    np.testing.assert_allclose(onnx_generator(z), expected, atol=1e-5)


def test_interpolation_latents():
    z1, z2, z3 = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    line = line_latents(z1, z2, 5)
    # atol: an entry near 0 computed as z1 + 0.5 (z2 - z1) differs from (z1 + z2) / 2 in its last bits.
    assert torch.allclose(line[0], z1) and torch.allclose(line[-1], z2)
    assert torch.allclose(line[2], (z1 + z2) / 2, atol=1e-6)
    plane = plane_latents(z1, z2, z3, 3)
    assert plane.shape == (9, 5)
    assert torch.allclose(plane[0], z1) and torch.allclose(plane[2], z2) and torch.allclose(plane[6], z3)
    assert torch.allclose(plane[8], z2 + z3 - z1, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "size"),
    [
        ("generate -n 16 --seed 3", (4 * 30 + 2, 4 * 30 + 2)),
        ("interpolate --mode line --steps 5 --rows 3", (5 * 30 + 2, 3 * 30 + 2)),
        ("interpolate --mode grid --steps 5 --rows 3", (5 * 30 + 2, 5 * 30 + 2)),
    ],
)
def test_generate_and_interpolate_cli_write_a_grid(tmp_path, cli, args, size):
    command, *options = args.split()
    result = cli(command, str(SHIPPED_ONNX), *options, "-o", str(tmp_path / "grid.png"))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "grid.png").size == size


def test_onnx_that_is_not_a_generator_is_refused(tmp_path):
    critic = Discriminator((1, 28, 28), 0.5, 32, 0.1, 2).eval()
    path = tmp_path / "critic.onnx"
    torch.onnx.export(
        critic, (torch.randn(1, 1, 28, 28),), str(path), input_names=["input"], dynamo=True, external_data=False
    )
    with pytest.raises(GanlabError, match=r"expected one input of shape \(B, latent_size\)"):
        OnnxGenerator(path)
