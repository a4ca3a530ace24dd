"""Data loading from the offline Fashion-MNIST, the [-1, 1] mapping and the seeded split."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.config import DataConfig
from ganlab.data import ImageFiles, TensorLoader, collate_images, load_images, make_loaders, split_indices, to_uint8
from ganlab.errors import GanlabError
from ganlab_solution.data import to_unit_range

from .helpers import FASHION, IDX_FILES, png_bomb, write_fake_fashion, write_idx


@pytest.mark.dataset
def test_debian_idx_folder_loads_both_splits_batches_in_range_and_is_not_mnist():
    train = load_images("FashionMNIST", FASHION, train=True)
    test = load_images("FashionMNIST", FASHION, train=False)
    assert train.shape == (60000, 1, 28, 28) and test.shape == (10000, 1, 28, 28)
    assert train.dtype == torch.uint8 and train.max() > 200
    loaders = make_loaders(DataConfig(rootdir=str(FASHION), batch_size=128), seed=0, to_unit_range=to_unit_range)
    assert len(loaders.train) == 54000 // 128 and loaders.img_shape == (1, 28, 28)
    with pytest.raises(GanlabError, match="holds FashionMNIST.*set data.dataset: FashionMNIST"):
        load_images("MNIST", FASHION, train=False)


def test_idx_files_are_parsed_gzipped_and_in_torchvision_layout(tmp_path):
    plain = write_fake_fashion(tmp_path / "plain", train=40, test=24)
    images_name = IDX_FILES[False][0]
    header = (plain / images_name).read_bytes()[:16]
    assert header == bytes([0, 0, 8, 3]) + (24).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    pixels = bytearray((plain / images_name).read_bytes()[16:])
    expected = torch.frombuffer(pixels, dtype=torch.uint8).reshape(24, 1, 28, 28)
    assert torch.equal(load_images("FashionMNIST", plain, train=False), expected)
    # Debian's package gzips the files; torchvision keeps them raw under <root>/FashionMNIST/raw/.
    zipped, raw = tmp_path / "zipped", tmp_path / "tv" / "FashionMNIST" / "raw"
    for folder in (zipped, raw):
        folder.mkdir(parents=True)
    for name in (*IDX_FILES[True], *IDX_FILES[False]):
        (zipped / f"{name}.gz").write_bytes(gzip.compress((plain / name).read_bytes()))
        (raw / name).write_bytes((plain / name).read_bytes())
    for root in (zipped, tmp_path / "tv"):
        assert torch.equal(load_images("FashionMNIST", root, train=False), expected), root
        assert load_images("FashionMNIST", root, train=True).shape == (40, 1, 28, 28)


def test_an_idx_file_that_is_not_uint8_is_named(tmp_path):
    folder = write_fake_fashion(tmp_path / "data", train=8, test=8)
    path = folder / IDX_FILES[False][0]
    data = bytearray(path.read_bytes())
    data[2] = 0x0D  # the type byte: float32 instead of uint8
    path.write_bytes(bytes(data))
    with pytest.raises(GanlabError, match="is not a uint8 idx file"):
        load_images("FashionMNIST", folder, train=False)


def test_missing_data_names_the_folder_and_the_fix(tmp_path):
    fix = "apt-get install dataset-fashion-mnist"
    with pytest.raises(GanlabError, match=f"no FashionMNIST data found in {tmp_path}.*{fix}"):
        load_images("FashionMNIST", tmp_path)


def test_pixels_are_mapped_to_minus_one_one():
    pixels = torch.tensor([0, 127, 255], dtype=torch.uint8)
    mapped = to_unit_range(pixels)
    assert mapped[0] == -1 and mapped[2] == 1 and abs(mapped[1]) < 0.01
    assert torch.equal(to_uint8(mapped), pixels)


def test_split_is_seeded_disjoint_and_complete():
    a_train, a_valid = split_indices(1000, 0.2, seed=3)
    b_train, b_valid = split_indices(1000, 0.2, seed=3)
    assert torch.equal(a_train, b_train) and torch.equal(a_valid, b_valid)
    assert len(a_valid) == 200 and len(set(a_train.tolist()) | set(a_valid.tolist())) == 1000
    assert not torch.equal(split_indices(1000, 0.2, seed=4)[1], a_valid)


def test_loaders_split_batch_and_map_a_small_set(fake_fashion):
    loaders = make_loaders(DataConfig(rootdir=str(fake_fashion), batch_size=16), seed=0, to_unit_range=to_unit_range)
    batches = list(loaders.train)
    # 320 training images, 10% held out for validation: 288 in 18 batches of 16.
    assert len(loaders.train) == 18 and all(b.shape == (16, 1, 28, 28) for b in batches)
    assert all(b.dtype == torch.float32 and b.min() >= -1 and b.max() <= 1 for b in batches)
    assert sum(len(b) for b in loaders.valid) == 32 and loaders.img_shape == (1, 28, 28)
    debug = DataConfig(rootdir=str(fake_fashion), batch_size=16, debug=True)
    assert len(make_loaders(debug, seed=0, to_unit_range=to_unit_range).train) == 8  # debug keeps a few batches


def test_tensor_loader_shuffles_reproducibly_and_resumes():
    images = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1)
    loader = TensorLoader(images, 10, shuffle=True, to_unit_range=to_unit_range, seed=0)
    first = [b.flatten().tolist() for b in loader]
    state = loader.generator.get_state()  # what the trainer's checkpoint keeps
    second = [b.flatten().tolist() for b in loader]
    assert first != second and sorted(sum(first, [])) == sorted(sum(second, []))
    other = TensorLoader(images, 10, shuffle=True, to_unit_range=to_unit_range, seed=0)
    other.generator.set_state(state)
    assert [b.flatten().tolist() for b in other] == second


def test_image_folder_skips_non_images_and_counts_broken_files_and_bombs_as_unreadable(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("L", (80, 60), 128).save(tmp_path / "sub" / "gray.png")
    Image.new("RGBA", (50, 50), (255, 0, 0, 128)).save(tmp_path / "rgba.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (tmp_path / "cut.png").write_bytes((tmp_path / "rgba.png").read_bytes()[:40])
    png_bomb(tmp_path / "bomb.png")
    with pytest.warns(UserWarning, match="skipped 1 files"):
        dataset = ImageFiles(tmp_path, 32)
    batch, unreadable = collate_images([dataset[i] for i in range(len(dataset))])
    assert len(dataset) == 5 and batch.shape == (2, 3, 32, 32) and unreadable == 3
    assert batch.min() >= -1 and batch.max() <= 1


def test_mnist_and_fashion_mnist_are_told_apart(tmp_path):
    from ganlab.data import identify

    # A stand-in for MNIST's test split: its label counts, and a mean pixel near its 33.8.
    labels = np.repeat(np.arange(10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.full((10000, 28, 28), 34, dtype=np.uint8))
    assert load_images("MNIST", tmp_path, train=False).shape == (10000, 1, 28, 28)
    with pytest.raises(GanlabError, match=f"data.dataset is FashionMNIST but {tmp_path} holds MNIST"):
        load_images("FashionMNIST", tmp_path, train=False)
    # A subset of unknown make-up is not refused: only a recognised other dataset is.
    assert identify(np.zeros((5, 28, 28), np.uint8), np.arange(5)) is None
