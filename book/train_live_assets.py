"""Files of the "Watch a GAN learn" page, made at build time (book/build.sh step 2).

    python3 book/train_live_assets.py OUTDIR [--images 10000]

writes into OUTDIR:

- ``fashion-mnist-train.u8``: the first N training images of the Debian Fashion-MNIST
  (``/usr/share/datasets/fashion-mnist``), raw uint8 28x28, one after the other, no header:
  the page streams it and reads image i at byte 784 * i;
- ``fashion-mnist-LICENSE.txt``: the data set's licence (MIT, Zalando SE), from the package;
- ``fashionmnist_classifier.onnx``: the shipped classifier, exported so that onnxruntime-web
  can give the page the same verdict as ``sample_quality`` gives Python (input: (B, 1, 28, 28)
  images in [-1, 1], output: (B, 10) logits).

A missing data set or classifier is one error line naming the fix, exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ganlab.classifier import load_classifier
from ganlab.config import FASHION_MNIST_ROOT as ROOTDIR
from ganlab.data import load_images
from ganlab.errors import GanlabError
from ganlab.files import atomic_write
from ganlab_solution.export import export_onnx

IMAGES_FILE = "fashion-mnist-train.u8"
LICENSE_FILE = "fashion-mnist-LICENSE.txt"
CLASSIFIER_FILE = "fashionmnist_classifier.onnx"
DEBIAN_COPYRIGHT = Path("/usr/share/doc/dataset-fashion-mnist/copyright")


def write_images(outdir: Path, count: int) -> Path:
    """The first ``count`` training images as raw bytes (count * 784 of them)."""
    images = load_images("FashionMNIST", ROOTDIR, train=True)
    if images.shape[1:] != (1, 28, 28):
        raise GanlabError(f"{ROOTDIR} holds images of shape {tuple(images.shape[1:])}, not Fashion-MNIST's (1, 28, 28)")
    data = images[:count].contiguous().numpy().tobytes()
    path = outdir / IMAGES_FILE
    atomic_write(path, lambda tmp: tmp.write_bytes(data))
    return path


def write_license(outdir: Path) -> Path:
    """The data set's licence as Debian ships it (the MIT licence of Zalando SE)."""
    if not DEBIAN_COPYRIGHT.is_file():
        raise GanlabError(f"{DEBIAN_COPYRIGHT} is missing: apt-get install dataset-fashion-mnist")
    path = outdir / LICENSE_FILE
    path.write_text(
        "The training images served with this site are the first images of Fashion-MNIST's training set\n"
        "(Xiao, Rasul and Vollgraf, 2017), copied from Debian's dataset-fashion-mnist package. Its licence:\n\n"
        + DEBIAN_COPYRIGHT.read_text()
    )
    return path


def write_classifier(outdir: Path) -> Path:
    """The shipped classifier as ONNX, with a dynamic batch size."""
    return export_onnx(
        load_classifier().eval(), torch.zeros(2, 1, 28, 28), outdir / CLASSIFIER_FILE, "images", "logits"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--images", type=int, default=10_000, help="training images to serve (default 10000)")
    args = parser.parse_args(argv)
    if not 64 <= args.images <= 60_000:
        print(f"error: --images {args.images}: give between 64 (one batch) and 60000 (the whole set)", file=sys.stderr)
        return 1
    try:
        args.outdir.mkdir(parents=True, exist_ok=True)
        for path in (write_images(args.outdir, args.images), write_license(args.outdir), write_classifier(args.outdir)):
            print(f"[train_live] wrote {path} ({path.stat().st_size:,} bytes)")
    except GanlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
