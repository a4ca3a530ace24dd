"""The student's own run from the command line, ``python -m ganlab train CONFIG --answers NOTEBOOKS``, where
``ganlab_solution`` cannot be imported (conftest.py's ``course_package_missing``), on the notebooks with every
answer filled in (``student_notebooks.answered``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ganlab.exercises import grade_id

from .helpers import ROOT, debug_config, run_python, wait_for, write_yaml
from .student_notebooks import DISCRIMINATOR_NOT_WRITTEN, answered

# Wider than the tiny model, so that a debug epoch lasts long enough to be interrupted in.
SMALL_MODEL = {"generator_base_c": 32, "discriminator_base_c": 8, "latent_size": 16}


def student_env(shadow: Path) -> dict[str, str]:
    # One thread: the same reduction order in every process, whatever the machine's load.
    return {"PYTHONPATH": f"{shadow}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}


def student_train(shadow: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m ganlab train ARGS`` with ``shadow`` (which hides the reference package) first on the path."""
    return run_python("-m", "ganlab", "train", *args, timeout=timeout, **student_env(shadow))


@pytest.mark.slow
@pytest.mark.training
def test_the_students_run_resumes_after_a_kill_to_the_uninterrupted_result(
    tmp_path, fake_fashion, course_package_missing
):
    nepochs = 4
    folder = answered(tmp_path / "student")
    shadow = course_package_missing
    raw = debug_config(
        tmp_path, rootdir=fake_fashion, optim={"nepochs": nepochs}, logging={"onnx_every": 0}, model=SMALL_MODEL
    )
    config = write_yaml(tmp_path / "c.yaml", raw)
    reference_dir, run_dir = tmp_path / "reference", tmp_path / "run"
    command = ["--answers", str(folder)]

    done = student_train(shadow, str(config), *command, "--run-dir", str(reference_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the lab's steps" in done.stdout + done.stderr  # the answers' own critic_step and generator_step

    train = [sys.executable, "-m", "ganlab", "train", str(config), *command, "--run-dir", str(run_dir)]
    env = {**os.environ, **student_env(shadow)}
    process = subprocess.Popen(train, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: process.poll() is not None or (run_dir / "checkpoint.pt").is_file(), 600, every=0.01)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    killed_at = torch.load(run_dir / "checkpoint.pt", weights_only=False)["epoch"]
    assert process.returncode == 130 and killed_at < nepochs, (process.returncode, killed_at, err[-2000:])
    assert f"resume with python -m ganlab train --resume {run_dir}" in err

    # --resume alone: the run folder remembers the notebooks' folder.
    resumed = student_train(shadow, "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final, reference = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (run_dir, reference_dir))
    assert final["epoch"] == nepochs
    for key in reference["gan"]:
        assert torch.equal(final["gan"][key], reference["gan"][key]), key

    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "answers.txt", "checkpoint.pt", "generator.onnx", "samples"} <= names
    assert not [n for n in names if n.endswith(".data") or n.endswith(".tmp")]  # one self-contained file
    assert (run_dir / "samples" / f"epoch_{nepochs:03d}.png").is_file()
    session = ort.InferenceSession(str(run_dir / "generator.onnx"), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).standard_normal((5, SMALL_MODEL["latent_size"])).astype(np.float32)
    images = session.run(None, {session.get_inputs()[0].name: z})[0]
    assert images.shape == (5, 1, 28, 28) and np.abs(images).max() <= 1

    # Notebook 6 explores it: its set-up cell finds my_generator.onnx, and the visible test passes.
    (folder / "my_generator.onnx").write_bytes((run_dir / "generator.onnx").read_bytes())
    cells = json.loads((folder / "06_generation.ipynb").read_text())["cells"]
    wanted = ("setup", "generate_images", "test_generate_images")
    code = "\n".join("".join(c["source"]) for c in cells if grade_id(c) in wanted)
    explored = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert explored.returncode == 0, explored.stderr[-3000:]
    assert "exploring your generator, my_generator.onnx" in explored.stdout, explored.stdout


@pytest.mark.training
def test_a_missing_answer_stops_the_run_in_one_line_and_writes_nothing(tmp_path, fake_fashion, course_package_missing):
    folder = answered(tmp_path / "student", DISCRIMINATOR_NOT_WRITTEN)
    config = write_yaml(tmp_path / "c.yaml", debug_config(tmp_path, rootdir=fake_fashion, model=SMALL_MODEL))
    done = student_train(course_package_missing, str(config), "--answers", str(folder), timeout=600)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("error: Discriminator of 02_critic.ipynb (exercise 2.3): not written yet"), lines[0]
    assert not (tmp_path / "logs").exists()
