"""What several test files share: the repository's paths, the tiny model, process and notebook helpers
(plain functions and constants; the fixtures built on them are in ``conftest.py``)."""

from __future__ import annotations

import functools
import importlib
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from ganlab.config import FASHION_MNIST_ROOT

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER = ROOT / "autograder"
# Where Debian's dataset-fashion-mnist installs the four idx files (named once, in the package).
FASHION = Path(FASHION_MNIST_ROOT)
FASHION_MISSING = (
    f"needs the real Fashion-MNIST, missing at {FASHION}: "
    "apt-get install dataset-fashion-mnist (`make setup` does it), or run `make test-fast`"
)
LAB_NOTEBOOKS = sorted((ROOT / "notebooks" / "ganlab").glob("*.ipynb"))  # the graded lab's source notebooks


def fashion_installed() -> bool:
    """Whether the real Fashion-MNIST's idx files are there (an empty folder is not enough)."""
    return any(FASHION.glob("t10k-images-idx3-ubyte*")) and any(FASHION.glob("train-images-idx3-ubyte*"))


SHIPPED_ONNX = ROOT / "ganlab" / "assets" / "fashionmnist_generator.onnx"
# The smallest networks the lab's code builds (the lab's own train for minutes on a loaded CPU): for tests about
# run folders, synchronisation, signals and errors, not learning.
TINY_MODEL = {"generator_base_c": 8, "discriminator_base_c": 4, "latent_size": 8}
IDX_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def marked(*names: str) -> Callable[[Callable], Callable]:
    """A decorator giving a test the pytest markers ``names`` (a tier's markers, written once)."""
    marks = [getattr(pytest.mark, name) for name in names]
    return lambda test: functools.reduce(lambda marked_test, mark: mark(marked_test), marks, test)


def bench_script(name: str) -> object:
    """``bench/NAME.py`` imported as a module (bench/ holds scripts, not a package)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


def run_python(*args: str, cwd: Path | None = None, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """``python ARGS`` in a new process that imports this checkout's code, output captured as text."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd or ROOT, env=environment, timeout=timeout
    )


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m ganlab_solution ARGS`` in a new process (for what only a real process shows)."""
    return run_python("-m", "ganlab_solution", *args, cwd=cwd, timeout=timeout)


def debug_config(tmp_path: Path, rootdir: Path = FASHION, **sections: object) -> dict:
    """A debug run (8 batches of 16 images per epoch, on CPU) reading the idx files in ``rootdir``."""
    config: dict = {
        "data": {"dataset": "FashionMNIST", "rootdir": str(rootdir), "debug": True, "batch_size": 16},
        "optim": {"nepochs": 1},
        "logging": {"logdir": str(tmp_path / "logs")},
        "device": "cpu",
        "seed": 0,
    }
    for key, values in sections.items():
        config.setdefault(key, {}).update(values) if isinstance(values, dict) else config.update({key: values})
    return config


def wait_for(condition: Callable[[], object], timeout: float, every: float = 0.05) -> object:
    """Poll ``condition`` until it is true or ``timeout`` seconds have passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(every)
    return value


def write_yaml(path: Path, data: object) -> Path:
    """``data`` as YAML (a string is written as it is)."""
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def write_idx(path: Path, array: np.ndarray) -> Path:
    """``array`` as an uncompressed uint8 idx file (the MNIST format: magic, sizes, then the bytes)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return path


def write_fake_fashion(folder: Path, train: int = 320, test: int = 64) -> Path:
    """A Fashion-MNIST-shaped folder of random 28x28 images and labels (Debian's file names, not gzipped) whose
    label counts match no known dataset, so the loader takes it for the FashionMNIST it is asked for (320
    training images: a debug run's 8 batches of 16 after the validation split)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for is_train, count in ((True, train), (False, test)):
        images, labels = IDX_FILES[is_train]
        write_idx(folder / images, rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(folder / labels, rng.integers(0, 10, count, dtype=np.uint8))
    return folder


def stream_text(cell: object) -> str:
    """What a notebook cell printed (its stream outputs, joined)."""
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")  # type: ignore[attr-defined]


def error_names(cell: object) -> list[str]:
    """The exception names of a notebook cell's error outputs, in order."""
    return [o.ename for o in cell.outputs if o.output_type == "error"]  # type: ignore[attr-defined]


def run_in_safe_execute(tmp_path: Path, sources: list, graded_as: str | None = None, **options: object) -> object:
    """A notebook of ``sources`` (code cells, kept as they are, or their sources) run by the autograder's SafeExecute
    in ``tmp_path``, as nbgrader runs the notebook ``graded_as`` when it is given."""
    from nbformat.v4 import new_code_cell, new_notebook
    from safe_execute import SafeExecute  # autograder/ is put on sys.path by conftest.py

    nb = new_notebook(cells=[new_code_cell(cell) if isinstance(cell, str) else cell for cell in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    resources: dict = {"metadata": {"path": str(tmp_path)}}
    if graded_as:
        resources["nbgrader"] = {"notebook": graded_as}
    SafeExecute(**{"timeout": 120, **options}).preprocess(nb, resources)
    return nb


def execute_notebook(notebook: Path | object, timeout: int, cwd: Path = ROOT) -> object:
    """Run a notebook (or the one at a path) top to bottom in a fresh python3 kernel started in ``cwd``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, Path) else notebook
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def notebook_stream(nb: object) -> str:
    """Everything the notebook's cells printed to stdout."""
    cells = nb.cells  # type: ignore[attr-defined]
    return "".join(o.get("text", "") for c in cells for o in c.get("outputs", []) if o.get("name") == "stdout")


def png_bomb(path: Path) -> Path:
    """A PNG whose header claims 20000x20000 pixels (Pillow refuses it as a decompression bomb)."""
    from PIL import Image

    Image.new("RGB", (8, 8), "white").save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then length and type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", 20000, 20000)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    path.write_bytes(bytes(data))
    return path
