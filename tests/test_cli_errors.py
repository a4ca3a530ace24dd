"""The catalogue of bad inputs: each ends in one ``error:`` line, the right exit code, and no file changed
outside ``tmp_path/run``. Cases run in-process through ``main([...])``; only the signal cases need a process."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import yaml
from filelock import FileLock
from onnx import TensorProto, helper
from PIL import Image

import ganlab.trainer as trainer
import ganlab_solution.fid as fid
from ganlab.config import parse_config
from ganlab.errors import INTERRUPTED, USER_ERROR, Interrupted
from ganlab.files import atomic_write
from ganlab.interrupts import stop_on_signals
from ganlab_solution.__main__ import build_parser, main
from ganlab_solution.trainer import train

from .helpers import FASHION, ROOT, SHIPPED_ONNX, TINY_MODEL, debug_config, png_bomb, wait_for, write_yaml

# -- inputs -------------------------------------------------------------------------
# Files that are no ONNX model at all, by kind.
NOT_ONNX = {"truncated": SHIPPED_ONNX.read_bytes()[:5000], "not_protobuf": b"\x08\x07not a protobuf"}


def _onnx_model(path: Path, kind: str = "ok") -> Path:
    """A tiny hand-built ONNX 'generator': latents (B, 4) -> images (B, 1, 2, 2), or a broken variant."""
    if kind in NOT_ONNX:
        path.write_bytes(NOT_ONNX[kind])
        return path
    batch: str | int = 2 if kind == "fixed_batch" else "B"
    in_type = TensorProto.INT64 if kind == "int_input" else TensorProto.FLOAT
    out_shape = {"two_channels": [batch, 2, 1, 2], "not_images": [batch, 4, 1]}.get(kind, [batch, 1, 2, 2])
    inputs = [helper.make_tensor_value_info("z", in_type, [batch, 4])]
    if kind == "two_inputs":
        inputs.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [batch, 4]))
    nodes = {  # each makes x from z
        "int_input": [helper.make_node("Cast", ["z"], ["x"], to=TensorProto.FLOAT)],
        "nan": [  # sqrt(-1 - z^2) is NaN everywhere
            helper.make_node("Mul", ["z", "z"], ["sq"]),
            helper.make_node("Sub", ["minus_one", "sq"], ["neg"]),
            helper.make_node("Sqrt", ["neg"], ["x"]),
        ],
    }.get(kind, [helper.make_node("Identity", ["z"], ["x"])])
    shape = [0, *out_shape[1:]]
    initializer = [helper.make_tensor("shape", TensorProto.INT64, [len(shape)], shape)]
    initializer.append(helper.make_tensor("minus_one", TensorProto.FLOAT, [], [-1.0]))
    outputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, out_shape)]
    nodes.append(helper.make_node("Reshape", ["x", "shape"], ["images"]))
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializer)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _frames(folder: Path, *names: str, garbage: bool = False) -> str:
    """A run folder whose ``samples/`` holds gray PNG frames (or garbage bytes) under ``names``."""
    samples = folder / "samples"
    samples.mkdir(parents=True)
    for name in names:
        if garbage:
            (samples / name).write_bytes(b"not a png")
        else:
            Image.new("RGB", (20, 20), "gray").save(samples / name, format="PNG")
    return str(folder)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, fake_fashion: Path) -> Path:
    """A finished one-epoch debug run of a tiny model on a small random Fashion-MNIST-shaped set."""
    tmp = tmp_path_factory.mktemp("finished")
    raw = debug_config(tmp, rootdir=fake_fashion, model=TINY_MODEL, logging={"onnx_every": 0})
    return train(parse_config(raw), quiet=True)


class Inputs:
    """Builders of the bad inputs, all inside one test's ``tmp_path/inputs``."""

    def __init__(self, tmp_path: Path, finished: Callable[[], Path], data: Path) -> None:
        self.dir, self.run = tmp_path / "inputs", tmp_path / "run"
        for folder in (self.dir, self.run):
            folder.mkdir()
        self._finished = finished
        self.locks: list[FileLock] = []  # released after the case
        self._data = data  # the idx files a config reads (a small random set: no case learns anything)
        (self.dir / "afile").write_text("a file, not a folder\n")

    def __getitem__(self, key: str) -> str:
        """A field of an argv template: {M}, {dir}, {run}, {config}, {copy}, {locked}, {onnx} or {onnx_KIND}."""
        if key.startswith("onnx"):
            kind = key[5:] or "ok"
            return str(_onnx_model(self.dir / f"{kind}.onnx", kind))
        built = {"M": lambda: SHIPPED_ONNX, "config": self.config, "copy": self.copy_run, "locked": self.locked_run}
        return str(built[key]() if key in built else getattr(self, key))

    def config(self, text: str | bytes | None = None, **sections: dict) -> Path:
        raw = debug_config(self.run, rootdir=self._data, **{"model": TINY_MODEL, **sections})
        path = self.dir / "c.yaml"
        content = yaml.safe_dump(raw) if text is None else text
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def copy_run(self) -> Path:
        """A copy of the finished run inside ``tmp_path/run`` (the one folder allowed to change)."""
        return Path(shutil.copytree(self._finished(), self.run / "copied"))

    def locked_run(self) -> Path:
        """A copy of the finished run, locked as another process would (a separate open file, so flock conflicts)."""
        run_dir = self.copy_run()
        self.locks.append(FileLock(run_dir / ".lock", timeout=0))
        self.locks[-1].acquire()
        return run_dir

    def images(self, *files: tuple[str, bytes | None]) -> Path:
        folder = self.dir / "images"
        folder.mkdir(exist_ok=True)
        for name, content in files:
            if content is None:
                png_bomb(folder / name)
            else:
                (folder / name).write_bytes(content)
        return folder


# -- the catalogue -------------------------------------------------------------------
# Each case: (argv, text the one error line must contain); all exit with USER_ERROR. The argv is a
# template of words whose {fields} Inputs fills in (see Inputs.__getitem__), or a builder of Inputs.
Case = tuple[str | Callable[[Inputs], list[str]], str]


def _train(text: str | bytes | None = None, **sections: dict) -> Callable[[Inputs], list[str]]:
    """``train`` on a config of that text, or the debug config with these ``sections``."""
    return lambda i: ["train", str(i.config(text, **sections))]


def _train_on_images(*files: tuple[str, bytes | None], image_size: int = 16) -> Callable[[Inputs], list[str]]:
    """``train`` on an image folder of ``files`` (None: a decompression bomb), two images a batch."""

    def build(i: Inputs) -> list[str]:
        data = {"dataset": "ImageFolder", "rootdir": str(i.images(*files)), "image_size": image_size, "batch_size": 2}
        return ["train", str(i.config(data={**data, "num_workers": 0, "valid_ratio": 0.0}))]

    return build


def _resume_tampered(change: Callable[[Path], object]) -> Callable[[Inputs], list[str]]:
    def build(i: Inputs) -> list[str]:
        run = i.copy_run()
        change(run)
        return ["train", "--resume", str(run)]

    return build


def _edit_config(update: Callable[[dict], None]) -> Callable[[Path], None]:
    def change(run: Path) -> None:
        raw = yaml.safe_load((run / "config.yaml").read_text())
        update(raw)
        (run / "config.yaml").write_text(yaml.safe_dump(raw))

    return change


CASES: dict[str, Case] = {
    # top level
    "no-command": ("", "the following arguments are required: COMMAND"),
    "unknown-command": ("trian", "invalid choice: 'trian'"),
    "unknown-option": ("generate {M} --count 3", "unrecognized arguments: --count"),
    # train: config files
    "train-no-config": ("train", "train needs a config file"),
    "train-missing-config": ("train {dir}/nope.yaml", "does not exist"),
    "train-config-is-folder": ("train {dir}", "is a folder"),
    "train-empty-config": (_train(""), "is empty: a minimal config is data: {dataset: FashionMNIST"),
    "train-empty-mapping": (_train("{}\n"), "is empty"),
    "train-not-utf8": (_train("data: {rootdir: café}\n".encode("latin-1")), "is not UTF-8 text"),
    "train-malformed-yaml": (_train("data: [unclosed\n"), "malformed YAML at line"),
    "train-top-level-list": (_train("- data\n"), "top level must be a mapping"),
    "train-typo-key": (_train(data={"batchsize": 4}), "unknown key 'data.batchsize'"),
    "train-wrong-type": (_train(data={"batch_size": "big"}), "data.batch_size"),
    "train-nepochs-1e30": (_train(optim={"nepochs": 1e30}), "optim.nepochs"),
    "train-nepochs-string-1e30": (_train("optim: {nepochs: 1e30}\n"), "optim.nepochs"),
    "train-nepochs-zero": (_train(optim={"nepochs": 0}), "optim.nepochs"),
    "train-nepochs-fraction": (_train(optim={"nepochs": 2.5}), "optim.nepochs"),
    "train-critic-steps-zero": (_train(optim={"critic_steps": 0}), "optim.critic_steps"),
    "train-critic-steps-whole-run": (
        _train(optim={"critic_steps": 9}),
        "optim.critic_steps 9 is more than the 8 batches of the whole run",
    ),
    "train-unknown-loss": (_train(optim={"loss": "l2"}), "optim.loss: 'l2' is not allowed"),
    "train-unknown-dataset": (_train(data={"dataset": "CIFAR10"}), "data.dataset: 'CIFAR10' is not allowed"),
    "train-mnist-on-fashion-folder": (
        _train(data={"dataset": "MNIST", "rootdir": str(FASHION)}),
        f"data.dataset is MNIST but {FASHION} holds FashionMNIST",
    ),
    "train-missing-rootdir": (_train(data={"rootdir": "/nonexistent/data"}), "no FashionMNIST data found"),
    "train-batch-larger-than-data": (
        _train(data={"batch_size": 100_000, "debug": False}),
        "larger than the training set",
    ),
    "train-wrong-image-size": (_train(data={"image_size": 32}), "FashionMNIST images are 28x28"),
    "train-attention-on-dcgan": (
        _train(model={**TINY_MODEL, "self_attention": True}),
        "self_attention needs architecture: resnet",
    ),
    "train-device-tpu-in-config": (_train(device="tpu"), "device must be"),
    "train-cuda-graph-on-cpu": (_train(optim={"cuda_graph": True}), "optim.cuda_graph needs a CUDA device"),
    "train-logdir-under-a-file": (
        lambda i: ["train", str(i.config(logging={"logdir": f"{i.dir}/afile/logs"}))],
        "cannot create a run folder in logging.logdir",
    ),
    "train-image-folder-missing": (
        _train(data={"dataset": "ImageFolder", "rootdir": "/nonexistent/images"}),
        "image folder /nonexistent/images does not exist",
    ),
    "train-image-folder-without-images": (_train_on_images(), "no image files"),
    # The size is refused before any image is read.
    "train-image-size-the-generator-cannot-make": (
        _train_on_images(("a.png", b""), image_size=30),
        "the generator cannot make 30x30 images",
    ),
    "train-image-folder-all-unreadable": (
        _train_on_images(*[(f"bad{k}.jpg", b"\xff\xd8 not a jpeg") for k in range(4)]),
        "epoch 1 had no readable image (4 unreadable files skipped)",
    ),
    "train-image-folder-decompression-bomb": (
        _train_on_images(("bomb1.png", None), ("bomb2.png", None)),
        "had no readable image (2 unreadable files skipped)",
    ),
    # train: command-line options
    "train-device-tpu": ("train {config} --device tpu", "device must be"),
    "train-device-cuda-99": (
        "train {config} --device cuda:99",
        "GPUs are visible: use cuda:0" if torch.cuda.is_available() else "no CUDA GPU is visible",
    ),
    "train-device-cuda-bad-index": ("train {config} --device cuda:x", "is not a device name"),
    "train-run-dir-is-a-file": ("train {config} --run-dir {dir}/afile", "is a file, not a run folder"),
    "train-run-dir-under-a-file": ("train {config} --run-dir {dir}/afile/run", "cannot create the run folder"),
    "train-resume-and-run-dir": (
        "train --resume {run} --run-dir {run}",
        "--resume and --run-dir both name a run folder",
    ),
    # train --resume
    "resume-missing-folder": ("train --resume {dir}/nope", "holds no checkpoint.pt"),
    "resume-empty-folder": ("train --resume {run}", "holds no checkpoint.pt"),
    "resume-a-file": ("train --resume {dir}/afile", "is a file, not a run folder"),
    "resume-finished-run": (
        "train --resume {copy}",
        "already finished its 1 epochs (optim.nepochs: 1), nothing to train",
    ),
    "resume-finished-run-dir": ("train {config} --run-dir {copy}", "already finished its 1 epochs"),
    "resume-device-tpu": ("train --resume {copy} --device tpu", "device must be"),
    "resume-other-architecture": (
        _resume_tampered(_edit_config(lambda raw: raw["model"].update(generator_base_c=16))),
        "was saved by another model or loss than the config describes",
    ),
    "resume-other-loss": (
        _resume_tampered(_edit_config(lambda raw: raw["optim"].update(loss="hinge"))),
        "was saved by another model or loss",
    ),
    "resume-config-of-other-model": (
        lambda i: ["train", str(i.config(model={**TINY_MODEL, "latent_size": 4})), "--resume", i["copy"]],
        "model/data sections or optim.loss differ",
    ),
    "resume-torch-file-not-checkpoint": (
        _resume_tampered(lambda run: torch.save({"weights": torch.zeros(3)}, run / "checkpoint.pt")),
        "is a torch file but not a training checkpoint",
    ),
    "resume-garbage-checkpoint": (
        _resume_tampered(lambda run: (run / "checkpoint.pt").write_bytes(b"garbage")),
        "cannot be read as a checkpoint",
    ),
    "resume-missing-config": (
        _resume_tampered(lambda run: (run / "config.yaml").unlink()),
        "config.yaml does not exist",
    ),
    "resume-locked-by-another-process": ("train --resume {locked}", "another process is training into"),
    # generate
    "generate-n-zero": ("generate {M} -n 0", "argument -n: 0 is out of range: choose 1 to 10000"),
    "generate-n-negative": ("generate {M} -n -3", "argument -n: -3 is out of range"),
    "generate-n-huge": ("generate {M} -n 100000", "argument -n: 100000 is out of range"),
    "generate-n-not-a-number": ("generate {M} -n ten", "argument -n: 'ten' is not an integer"),
    "generate-seed-negative": ("generate {M} --seed -1", "argument --seed: -1 is out of range"),
    "generate-unknown-extension": ("generate {M} -o {run}/x.xyz", "cannot write .xyz images"),
    "generate-output-is-folder": ("generate {M} -o {run}", "is a folder: pass an image file"),
    "generate-output-under-a-file": ("generate {M} -o {dir}/afile/x.png", "exists and is not a folder"),
    "generate-missing-model": ("generate {dir}/g.onnx", "no such file"),
    "generate-model-truncated": ("generate {onnx_truncated} -o {dir}/x.png", "is not a loadable ONNX model"),
    "generate-model-is-folder": ("generate {dir}", "no such file"),
    "generate-int-input": ("generate {onnx_int_input}", "its input is a tensor(int64)"),
    "generate-two-inputs": ("generate {onnx_two_inputs}", "expected one input"),
    "generate-two-channels": ("generate {onnx_two_channels}", "images with 2 channels"),
    "generate-not-images": ("generate {onnx_not_images}", "expected one output of shape"),
    "generate-nan-output": ("generate {onnx_nan}", "outputs only NaN or infinite pixels"),
    # interpolate
    "interpolate-steps-zero": ("interpolate {M} --steps 0", "argument --steps: 0 is out of range"),
    "interpolate-steps-one": ("interpolate {M} --steps 1", "a walk needs both ends"),
    "interpolate-steps-huge": ("interpolate {M} --steps 1000", "choose 2 to 100"),
    "interpolate-rows-zero": ("interpolate {M} --mode line --rows 0", "argument --rows: 0 is out of range"),
    "interpolate-unknown-mode": ("interpolate {M} --mode circle", "invalid choice: 'circle'"),
    "interpolate-missing-model": ("interpolate {dir}/g.onnx", "no such file"),
    "interpolate-jpg-typo": ("interpolate {M} -o {run}/x.jgp", "cannot write .jgp"),
    # animate
    "animate-missing-folder": ("animate {dir}/nope", "(no such folder)"),
    "animate-no-samples": ("animate {run}", "no samples/epoch_*.png"),
    "animate-only-stray-files": (lambda i: ["animate", _frames(i.dir, "epoch_best.png")], "no samples/epoch_*.png"),
    "animate-every-zero": ("animate {run} --every 0", "argument --every: 0 is out of"),
    "animate-fps-zero": ("animate {run} --fps 0", "argument --fps: 0 is out of range"),
    "animate-fps-huge": ("animate {run} --fps 1000", "faster than 50 per second"),
    "animate-fps-nan": ("animate {run} --fps nan", "argument --fps: nan is out of range"),
    "animate-unreadable-frame": (
        lambda i: ["animate", _frames(i.dir, "epoch_001.png", garbage=True), "-o", f"{i.run}/a.gif"],
        "cannot be read as an image",
    ),
    "animate-not-gif": (
        lambda i: ["animate", _frames(i.dir, "epoch_001.png"), "-o", f"{i.run}/a.png"],
        "the animation is a GIF",
    ),
    # fid
    "fid-n-one": ("fid {M} -n 1", "argument -n: 1 is out of range"),
    "fid-n-more-than-test-split": ("fid {M} -n 20000", "choose between 2 and the 10000"),
    "fid-batch-size-zero": ("fid {M} --batch-size 0", "argument --batch-size: 0 is out of"),
    "fid-no-model": ("fid -n 10", "fid needs a generator .onnx file"),
    "fid-missing-model": ("fid {dir}/g.onnx -n 10", "no such file"),
    "fid-model-not-protobuf": ("fid {onnx_not_protobuf} -n 10", "is not a loadable ONNX model"),
    "fid-unknown-dataset": ("fid {M} --dataset CIFAR10", "invalid choice: 'CIFAR10'"),
    "fid-missing-rootdir": ("fid {M} --rootdir {dir}/nope", "no FashionMNIST data found"),
    "fid-mnist-on-fashion-folder": ("fid {M} --dataset MNIST", "holds FashionMNIST"),
    "fid-wrong-image-shape": (
        "fid {onnx} -n 10 --no-cache",
        "makes images of shape (1, 2, 2) but FashionMNIST has (1, 28, 28)",
    ),
    # classifier
    "classifier-n-too-small": ("classifier {M} -n 0", "argument -n: 0 is out of range"),
    "classifier-epochs-zero": ("classifier --epochs 0", "argument --epochs: 0 is out of"),
    "classifier-missing-model": ("classifier {dir}/g.onnx", "no such file"),
    "classifier-wrong-image-shape": ("classifier {onnx} -n 10", "the classifier reads Fashion-MNIST's (1, 28, 28)"),
    "classifier-missing-rootdir": ("classifier --rootdir {dir}/nope -o {run}/c.pt", "no FashionMNIST data found"),
    "classifier-output-is-folder": ("classifier -o {run}", "pass a file name for the state dict"),
    # quantize
    "quantize-missing-model": ("quantize {dir}/g.onnx", "no such file"),
    "quantize-model-not-protobuf": ("quantize {onnx_not_protobuf}", "is not a loadable ONNX model"),
    "quantize-calibration-zero": ("quantize {M} --calibration 0", "argument --calibration: 0"),
    "quantize-overwrites-float-model": ("quantize {onnx} -o {dir}/ok.onnx", "would overwrite the float model"),
    "quantize-int-input": ("quantize {onnx_int_input}", "its input is a tensor(int64)"),
}

# The cases whose error can only be reached by reading the real Fashion-MNIST (the others read a small
# random set or nothing): the fast tier leaves them out, and without the dataset they fail at set-up.
# fid reads the real set's statistics before it looks at the model or the sample count.
NEEDS_FASHION = {"train-mnist-on-fashion-folder", "fid-missing-model", "fid-mnist-on-fashion-folder", "fid-no-model"}
NEEDS_FASHION |= {"fid-n-more-than-test-split", "fid-wrong-image-shape", "fid-model-not-protobuf"}


def _snapshot(tmp_path: Path, skip: set[Path]) -> dict[Path, tuple[int, int] | None]:
    """Size and modification time of the repository's files as git lists them, tracked or new (not the ignored
    build outputs, which other xdist workers write while a case runs), and of ``tmp_path``'s files but ``skip``."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    files = {ROOT / name: _stat(ROOT / name) for name in listed if name}
    for folder, dirs, names in os.walk(tmp_path):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        files.update({Path(folder, name): _stat(Path(folder, name)) for name in names})
    return files


def _stat(path: Path) -> tuple[int, int] | None:
    """Size and modification time of ``path``; None for a file gone (a tracked file deleted by the case)."""
    stat = path.stat() if path.exists() else None
    return (stat.st_size, stat.st_mtime_ns) if stat else None


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.dataset) if name in NEEDS_FASHION else name for name in sorted(CASES)]
)
def test_bad_input_gives_one_error_line(name, tmp_path, monkeypatch, capfd, request, fake_fashion):
    build, expected = CASES[name]
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # default outputs (samples.png...) would land here
    # onnxruntime keeps a telemetry id under ~/.cache: a private HOME, not checked, keeps the real one clean.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GANLAB_DEBUG", raising=False)
    # The finished run is trained (once) only for the cases that copy it.
    inputs = Inputs(tmp_path, lambda: request.getfixturevalue("finished_run"), fake_fashion)
    argv = build(inputs) if callable(build) else [word.format_map(inputs) for word in build.split()]
    skip = {inputs.run, tmp_path / "home"}
    before = _snapshot(tmp_path, skip)
    capfd.readouterr()
    try:
        status = main(argv)
    finally:
        for lock in inputs.locks:
            lock.release()
    err = capfd.readouterr().err
    lines = err.strip().splitlines()
    assert status == USER_ERROR, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in err
    assert _snapshot(tmp_path, skip) == before, "a file outside tmp_path/run changed"
    assert not list(inputs.run.rglob(".*.tmp")), "a temporary file was left behind"
    # A run stopped before its first checkpoint leaves no folder behind (nothing in it could be resumed).
    assert all((d / "checkpoint.pt").is_file() for d in inputs.run.glob("logs/*")), "an empty run folder was left"


def test_catalogue_covers_every_sub_command():
    """Every sub-command the CLI's parser defines has cases, and every case names a real command."""
    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    commands = set(subparsers.choices)
    # Case names start with their command; "resume" is train --resume, the other prefixes are top-level cases.
    prefixes = {name.split("-")[0] for name in CASES}
    top_level = {"no", "unknown"}
    assert prefixes - top_level - {"resume"} == commands, f"commands without a case: {commands - prefixes}"
    for command in commands:
        cases = [name for name in CASES if name.startswith(f"{command}-")]
        assert len(cases) >= 3, f"{command}: only {cases}"


def test_debug_flag_prints_the_traceback(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", str(tmp_path / "g.onnx"), "--debug"]) == USER_ERROR
    err = capfd.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: ")
    monkeypatch.setenv("GANLAB_DEBUG", "1")
    assert main(["generate", str(tmp_path / "g.onnx")]) == USER_ERROR
    assert "Traceback" in capfd.readouterr().err


def test_an_internal_error_says_it_is_a_bug(monkeypatch, capfd):
    import ganlab_solution.generate as generate

    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(generate, "generate", broken)
    assert main(["generate", str(SHIPPED_ONNX)]) == 1
    err = capfd.readouterr().err
    assert "Traceback" in err and "this is a bug, please report it" in err.strip().splitlines()[-1]


# -- what succeeds but used to surprise --------------------------------------------------
@pytest.mark.parametrize(
    ("fixed_batch", "count", "out", "image_format"), [(False, 600, "a.jpg", "JPEG"), (True, 5, "b.png", "PNG")]
)
def test_generate_runs_in_batches_of_the_generators_size(tmp_path, fixed_batch, count, out, image_format):
    """600 images are more than one batch; a generator exported with a fixed batch of 2 runs in that size."""
    model = _onnx_model(tmp_path / "fixed.onnx", "fixed_batch") if fixed_batch else SHIPPED_ONNX
    assert main(["generate", str(model), "-n", str(count), "-o", str(tmp_path / out)]) == 0
    assert Image.open(tmp_path / out).format == image_format


def test_stray_files_in_samples_are_ignored(tmp_path):
    assert main(["animate", _frames(tmp_path, "epoch_001.png", "epoch_002.png", "epoch_best.png", "notes.txt")]) == 0
    assert (tmp_path / "evolution.gif").is_file()


@pytest.mark.dataset
def test_unwritable_fid_cache_warns_and_still_prints_the_fid(tmp_path, capfd, monkeypatch):
    def features(images, desc=""):  # the real network takes minutes on a CPU; the cache logic is what is tested
        return np.random.default_rng(0).standard_normal((len(images), 8))

    monkeypatch.setattr(fid, "InceptionFeatures", lambda *args, **kwargs: features)
    blocked = tmp_path / "afile"
    blocked.write_text("")
    status = main(["fid", "--real-vs-real", "-n", "50", "--cache-dir", str(blocked / "cache")])
    captured = capfd.readouterr()
    assert status == 0 and "FID (train vs test FashionMNIST, n=50):" in captured.out
    assert "warning: could not cache the real-set statistics" in captured.err


def test_resume_takes_the_device_option_and_removes_stale_temporary_files(tmp_path, finished_run, monkeypatch, capfd):
    seen = {}

    def fake_fit(self):
        seen["device"] = self.config.device
        return self.run_dir

    monkeypatch.setattr(trainer.Trainer, "fit", fake_fit)
    run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    _edit_config(lambda raw: raw.update(device="auto", optim={**raw["optim"], "nepochs": 2}))(run)
    stale = [run / ".checkpoint.pt.abc123.tmp", run / ".generator.onnx.x.tmp", run / "samples" / ".epoch_001.png.y.tmp"]
    for path in stale:  # left by an interrupted write
        path.write_bytes(b"half a file")
    assert main(["train", "--resume", str(run), "--device", "cpu"]) == 0
    assert seen["device"] == "cpu" and not any(path.exists() for path in stale)
    assert "removed 3 temporary files left by an interrupted write" in capfd.readouterr().err


# -- signals --------------------------------------------------------------------------
def test_a_signal_during_a_write_waits_for_the_file_then_stops(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"previous")

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"first half ")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the write
        try:  # library code that swallows exceptions while it saves cannot swallow the stop
            time.sleep(0.01)
        except BaseException:
            pass
        with open(tmp, "ab") as f:
            f.write(b"second half")

    with stop_on_signals(), pytest.raises(Interrupted):
        atomic_write(path, write)
    assert path.read_bytes() == b"first half second half"
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_training_cleanly_and_say_how_to_resume(tmp_path, fake_fashion, sig):
    raw = debug_config(tmp_path, rootdir=fake_fashion, model=TINY_MODEL, optim={"nepochs": 1000})
    config = write_yaml(tmp_path / "c.yaml", raw)
    run_dir = tmp_path / "job"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "ganlab_solution", "train", str(config), "--run-dir", str(run_dir)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (run_dir / "checkpoint.pt").is_file() or process.poll() is not None, 300)
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == INTERRUPTED, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: interrupted by {signal.Signals(sig).name}"), err
    assert lines[0].endswith(f"resume with python -m ganlab_solution train --resume {run_dir}")
    assert torch.load(run_dir / "checkpoint.pt", weights_only=False)["epoch"] >= 1
    assert not list(run_dir.rglob(".*.tmp"))


# -- a full disk ------------------------------------------------------------------------
@pytest.mark.slow
def test_a_full_disk_says_so_and_keeps_the_previous_checkpoint(tmp_path, finished_run, capfd):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    size = sum(p.stat().st_size for p in finished_run.rglob("*") if p.is_file())
    # Room for the copied run and a little more (a sample grid, the events), not for a second checkpoint.
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size + 64 * 1024}", "tmpfs", str(mount)])
    if ok.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        run = Path(shutil.copytree(finished_run, mount / "run"))
        raw = yaml.safe_load((run / "config.yaml").read_text())
        raw["optim"]["nepochs"] = 2
        config = write_yaml(tmp_path / "c.yaml", raw)
        before = {name: (run / name).read_bytes() for name in ("checkpoint.pt", "generator.onnx")}
        status = main(["train", str(config), "--resume", str(run)])
        err = capfd.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert status == USER_ERROR and len(errors) == 1, err
        assert "no space left on device" in errors[0] and f"--resume {run}" in errors[0]
        for name, content in before.items():
            assert (run / name).read_bytes() == content, name
        assert not list(run.rglob(".*.tmp"))
    finally:
        subprocess.run(["umount", str(mount)], check=False)
