"""Datasets for the lab, batches with pixels mapped to [-1, 1].

Where the mapping happens (notebook 1 asks students to find it):

* in-memory datasets (MNIST, FashionMNIST, EMNIST, SVHN) keep uint8 pixels and the
  loader calls the ``to_unit_range`` function it is given on each batch (the student's
  own, from notebook 1, or the reference's for the instructor's trainer);
* streamed datasets (CelebA, ImageFolder) use ``transforms.Normalize(0.5, 0.5)``
  after ``ToTensor`` in :func:`streaming_transform`, i.e. ``(x - 0.5) / 0.5``.

Both give [-1, 1], the range of the generator's final tanh. ``rootdir`` may be a torchvision root
or a folder holding the four idx files, as Debian's ``dataset-fashion-mnist`` installs them.
"""

from __future__ import annotations

import copy
import gzip
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .config import FASHION_MNIST_ROOT, DataConfig
from .errors import GanlabError

ImgShape = tuple[int, int, int]

IMAGE_SHAPES: dict[str, ImgShape] = {
    "MNIST": (1, 28, 28),
    "FashionMNIST": (1, 28, 28),
    "EMNIST": (1, 28, 28),
    "SVHN": (3, 32, 32),
    "CelebA": (3, 64, 64),
}
IN_MEMORY = ("MNIST", "FashionMNIST", "EMNIST", "SVHN")
IDX_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DEBUG_BATCHES = 8
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
UnitRange = Callable[[torch.Tensor], torch.Tensor]  # uint8 images -> float images in [-1, 1]


def to_uint8(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 pixels in [0, 255], clamped and rounded (for files and image metrics)."""
    return ((torch.as_tensor(images).float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def image_shape(config: DataConfig) -> ImgShape:
    """The (C, H, W) shape of the images the dataset yields."""
    if config.dataset == "ImageFolder":
        size = config.image_size or 64
        return (3, size, size)
    shape = IMAGE_SHAPES[config.dataset]
    if config.image_size not in (None, shape[1]):
        raise GanlabError(
            f"data.image_size: {config.dataset} images are {shape[1]}x{shape[2]}; "
            f"remove image_size or set it to {shape[1]}"
        )
    return shape


def _open_idx(folder: Path, name: str) -> Path | None:
    return next((path for path in (folder / name, folder / f"{name}.gz") if path.is_file()), None)


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST format), gzipped or not, into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise GanlabError(f"{path} is not a uint8 idx file: re-install or re-download the dataset")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


# What each known idx dataset looks like: images per class, and the mean pixel of the split. MNIST and Fashion-MNIST
# share file names and formats; these tell them apart (and from EMNIST's balanced split), offline and in milliseconds.
KNOWN_SPLITS: dict[str, list[tuple[list[int], float | None]]] = {
    "FashionMNIST": [([6000] * 10, 72.94), ([1000] * 10, 73.15)],
    "MNIST": [
        ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], 33.32),
        ([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], 33.79),
    ],
    "EMNIST": [([2400] * 47, None), ([400] * 47, None)],
}


def identify(images: np.ndarray, labels: np.ndarray | None) -> str | None:
    """Which known dataset (``MNIST``, ``FashionMNIST``, ``EMNIST``) these idx arrays are; None if unknown."""
    if labels is None or labels.ndim != 1 or len(labels) != len(images):
        return None
    counts = np.bincount(labels).tolist()
    mean = None
    for name, splits in KNOWN_SPLITS.items():
        for histogram, pixel_mean in splits:
            if counts != histogram:
                continue
            if pixel_mean is None:
                return name
            mean = float(images.mean(dtype=np.float64)) if mean is None else mean
            if abs(mean - pixel_mean) < 0.5:
                return name
    return None


def _missing(dataset: str, rootdir: Path) -> GanlabError:
    how = (
        f"install Debian's {FASHION_MNIST_PACKAGE} (apt-get install {FASHION_MNIST_PACKAGE}) and use "
        f"rootdir {FASHION_MNIST_ROOT}, or "
        if dataset == "FashionMNIST"
        else ""
    )
    return GanlabError(
        f"no {dataset} data found in {rootdir}: {how}set data.download: true where there is network "
        f"(torchvision downloads it into rootdir), or point data.rootdir at the folder that holds it"
    )


def load_images(dataset: str, rootdir: str | Path, train: bool = True, download: bool = False) -> torch.Tensor:
    """Load a whole in-memory dataset split as a uint8 tensor of shape (N, C, H, W)."""
    if dataset not in IN_MEMORY:
        raise GanlabError(f"{dataset} is streamed from disk, not loaded whole; use one of {', '.join(IN_MEMORY)}")
    root = Path(rootdir).expanduser()
    if dataset in ("MNIST", "FashionMNIST"):
        files = [_open_idx(root, name) for name in IDX_NAMES[train]]
        if files[0] is not None:
            images = read_idx(files[0])
            found = identify(images, read_idx(files[1]) if files[1] is not None else None)
            if found is not None and found != dataset:  # e.g. Fashion-MNIST asked for as MNIST
                raise GanlabError(
                    f"data.dataset is {dataset} but {root} holds {found} (recognised by its label counts and pixels): "
                    f"set data.dataset: {found}, or point data.rootdir at a folder that holds {dataset}"
                )
            return torch.from_numpy(images.copy()).unsqueeze(1)
    if not root.is_dir() and not download:
        raise _missing(dataset, root)
    import torchvision.datasets as tvd

    try:
        if dataset == "SVHN":
            ds = tvd.SVHN(str(root), split="train" if train else "test", download=download)
            return torch.from_numpy(ds.data.copy())
        if dataset == "EMNIST":
            ds = tvd.EMNIST(str(root), split="balanced", train=train, download=download)
            # EMNIST stores its images transposed with respect to MNIST: put them upright.
            return ds.data.transpose(1, 2).contiguous().unsqueeze(1)
        cls = tvd.MNIST if dataset == "MNIST" else tvd.FashionMNIST
        return cls(str(root), train=train, download=download).data.unsqueeze(1)
    except RuntimeError as exc:
        if "not found" in str(exc).lower() or "download" in str(exc).lower():
            raise _missing(dataset, root) from None
        raise


def split_indices(n: int, valid_ratio: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of ``range(n)`` into (train, valid) index tensors."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    nvalid = int(round(n * valid_ratio))
    return perm[nvalid:], perm[:nvalid]


class TensorLoader:
    """Batches in [-1, 1] (by ``to_unit_range``) of a dataset held whole as one uint8 tensor on the device.

    One ``torch.randperm`` per epoch and one indexing per batch; shuffled epochs drop the last incomplete
    batch (a BatchNorm'd critic prefers full ones); a resumed run restores ``generator`` to draw the same order.
    """

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        to_unit_range: UnitRange,
        seed: int = 0,
        device: Any = "cpu",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.images = images.to(device)
        self.to_unit_range = to_unit_range
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)
        # Distributed training: every rank draws the same permutation (same seed) and
        # keeps every world_size-th index, so the shards are disjoint and equal in size.
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        if not self.shuffle:
            return -(-self.images.shape[0] // self.batch_size)
        return self.images.shape[0] // self.world_size // self.batch_size

    def __iter__(self) -> Iterator[torch.Tensor]:
        n = self.images.shape[0]
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)[self.rank :: self.world_size].to(self.images.device)
            for i in range(len(self)):
                yield self.to_unit_range(self.images[order[i * self.batch_size : (i + 1) * self.batch_size]])
        else:
            for i in range(0, n, self.batch_size):
                yield self.to_unit_range(self.images[i : i + self.batch_size])


def streaming_transform(size: int, augment: bool = False) -> Any:
    """Resize the short side to ``size``, crop a square (random and flipped half the time with ``augment``,
    else centred), to tensor, ``Normalize(0.5, 0.5)``: [0, 1] to [-1, 1]."""
    from torchvision import transforms

    crop = (
        [transforms.RandomCrop(size), transforms.RandomHorizontalFlip()] if augment else [transforms.CenterCrop(size)]
    )
    normalize = transforms.Normalize([0.5] * 3, [0.5] * 3)
    return transforms.Compose([transforms.Resize(size), *crop, transforms.ToTensor(), normalize])


class ImageFiles(Dataset):
    """Every image file below a folder (nested or not), as RGB, resized and randomly cropped (and flipped) to ``size``.

    Files without an image extension are skipped with one warning; one that cannot be decoded yields
    ``None``, dropped and counted by :func:`collate_images`, so one bad file never stops an epoch.
    """

    def __init__(self, root: str | Path, size: int) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise GanlabError(f"image folder {root} does not exist: set data.rootdir to a folder of JPEG/PNG images")
        files = sorted(p for p in root.rglob("*") if p.is_file())
        self.files = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        skipped = len(files) - len(self.files)
        if skipped:
            warnings.warn(f"{root}: skipped {skipped} files that are not images", stacklevel=2)
        if not self.files:
            raise GanlabError(f"no image files (.jpg, .png...) found below {root}: check data.rootdir")
        self.transform = streaming_transform(size, augment=True)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor | None:
        from PIL import Image

        try:
            with warnings.catch_warnings():
                # An image over Pillow's pixel limit (a "decompression bomb": a small file that
                # decodes to gigabytes) is skipped like any undecodable file, never decoded.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(self.files[index]) as img:
                    return self.transform(img.convert("RGB"))
        except Exception:  # any decoder's failure: the file is counted as unreadable
            return None


def collate_images(batch: list[Any]) -> tuple[torch.Tensor, int]:
    """``(images, number of unreadable files)``: the images stacked, the ``None`` of unreadable files (and the
    labels, if any) dropped."""
    images = [item[0] if isinstance(item, tuple) else item for item in batch]
    good = [img for img in images if img is not None]
    return (torch.stack(good) if good else torch.empty(0)), len(images) - len(good)


@dataclass
class Loaders:
    """What the trainer needs from the data: batches and the image shape."""

    train: Any
    valid: Any
    img_shape: ImgShape


def make_loaders(
    config: DataConfig,
    seed: int,
    to_unit_range: UnitRange,
    device: torch.device | str = "cpu",
    rank: int = 0,
    world_size: int = 1,
) -> Loaders:
    """Train and valid batch iterators for ``config``, split with ``seed``, each rank its own shard.

    In-memory datasets are held whole on ``device`` and map each uint8 batch with ``to_unit_range``
    (:class:`TensorLoader`); the streamed ones yield ``(images, n_unreadable)`` pairs from a ``DataLoader``.
    """
    shape = image_shape(config)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        train_idx, valid_idx = split_indices(min(n, config.max_images or n), config.valid_ratio, seed)
        if config.debug:  # a few batches, for smoke runs
            return train_idx[: DEBUG_BATCHES * config.batch_size * world_size], valid_idx[: 2 * config.batch_size]
        return train_idx, valid_idx

    if config.dataset in IN_MEMORY:
        images = load_images(config.dataset, config.rootdir, train=True, download=config.download)
        train_idx, valid_idx = split(images.shape[0])
        return Loaders(
            TensorLoader(images[train_idx], config.batch_size, True, to_unit_range, seed, device, rank, world_size),
            TensorLoader(images[valid_idx], config.batch_size, False, to_unit_range, device=device),
            shape,
        )
    if config.dataset == "ImageFolder":
        train_set: Dataset = ImageFiles(config.rootdir, shape[1])
        # Validation images are centre-cropped and never flipped; the file list is shared.
        valid_set = copy.copy(train_set)
        valid_set.transform = streaming_transform(shape[1])
    else:
        import torchvision.datasets as tvd

        root, transform = Path(config.rootdir).expanduser(), streaming_transform(shape[1])
        try:  # (image, None) pairs: collate_images keeps the images
            train_set = valid_set = tvd.CelebA(
                str(root), split="all", target_type=[], transform=transform, download=config.download
            )
        except RuntimeError:
            raise _missing("CelebA", root) from None
    train_idx, valid_idx = split(len(train_set))  # type: ignore[arg-type]
    common: dict[str, Any] = {
        "batch_size": config.batch_size,
        "num_workers": config.num_workers,
        "collate_fn": collate_images,
        "pin_memory": config.pin_memory and torch.device(device).type == "cuda",
        "persistent_workers": config.num_workers > 0,
        "prefetch_factor": config.prefetch_factor if config.num_workers > 0 else None,
    }
    train_subset = Subset(train_set, train_idx.tolist())
    if world_size > 1:
        sampler = DistributedSampler(train_subset, world_size, rank, shuffle=True, seed=seed, drop_last=True)
        train = DataLoader(train_subset, sampler=sampler, drop_last=True, **common)
    else:
        generator = torch.Generator().manual_seed(seed)
        train = DataLoader(train_subset, shuffle=True, drop_last=True, generator=generator, **common)
    valid = DataLoader(Subset(valid_set, valid_idx.tolist()), shuffle=False, **common)
    return Loaders(train, valid, shape)
