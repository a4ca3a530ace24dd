"""Data-parallel training: two CPU processes under torchrun (gloo), rank 0 alone writing."""

from __future__ import annotations

import pytest
import torch

from ganlab.data import TensorLoader
from ganlab_solution.data import to_unit_range

from .helpers import TINY_MODEL, debug_config, run_python, write_yaml


def test_tensor_loader_shards_are_disjoint_and_cover_the_set():
    images = torch.arange(64, dtype=torch.uint8).view(64, 1, 1, 1)
    shards = [
        TensorLoader(images, 8, shuffle=True, to_unit_range=to_unit_range, seed=5, rank=r, world_size=2)
        for r in range(2)
    ]
    seen = [sorted(int(v) for b in shard for v in ((b.flatten() + 1) * 127.5).round().tolist()) for shard in shards]
    assert len(shards[0]) == len(shards[1]) == 4
    assert not set(seen[0]) & set(seen[1]) and len(seen[0]) + len(seen[1]) == 64


@pytest.mark.slow
@pytest.mark.training
def test_two_process_torchrun_trains_in_sync_and_writes_once(tmp_path, fake_fashion):
    raw = debug_config(
        tmp_path, rootdir=fake_fashion, optim={"nepochs": 2}, logging={"onnx_every": 0}, model=TINY_MODEL
    )
    config = write_yaml(tmp_path / "c.yaml", raw)
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    result = run_python(*torchrun, "-m", "ganlab_solution", "train", str(config), cwd=tmp_path, OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "2 processes" in out and "ranks hold identical weights: True" in out
    (run_dir,) = (tmp_path / "logs").iterdir()  # one folder: only rank 0 writes
    assert torch.load(run_dir / "checkpoint.pt", weights_only=False)["epoch"] == 2
    assert (run_dir / "generator.onnx").is_file()
    assert len(list(run_dir.glob("events.out.tfevents*"))) == 1
