"""Config validation: the page's YAML is accepted, every mistake is one clear line (a real run's mistakes:
tests/test_cli_errors.py)."""

from __future__ import annotations

import pytest
import yaml

from ganlab.config import MINIMAL_CONFIG, Config, load_config, parse_config
from ganlab.errors import GanlabError

from .helpers import ROOT, write_yaml

LAB_PAGE_YAML = """\
data:
  dataset: "MNIST" # SVHN, EMNIST, FashionMNIST, CelebA
  rootdir: "/mounts/datasets/datasets/"
  debug: False
  batch_size: 256
optim:
  base_lr: 0.0002
  wdecay: 0.0
  lblsmooth: 0.2
  nepochs: 200
logging:
  logdir: "./logs" # Better to provide the full path, especially on the cluster
model:
  dnoise: 0.1
  discriminator_base_c: 32
  generator_base_c: 256
  latent_size: 100
  dropout: 0.5
"""


def test_the_lab_page_config_is_accepted_as_is_and_its_values_are_the_defaults(tmp_path):
    config, defaults = load_config(write_yaml(tmp_path / "c.yaml", LAB_PAGE_YAML)), Config()
    assert config.data.dataset == "MNIST" and config.data.batch_size == defaults.data.batch_size == 256
    # Every optim and model value the page sets is the default (the page's numbers are in LAB_PAGE_YAML).
    assert config.optim == defaults.optim and config.model == defaults.model
    assert defaults.critic_lr == defaults.generator_lr == 2e-4


def test_shipped_configs_are_valid():
    paths = sorted((ROOT / "configs").glob("*.yaml"))
    # One per dataset of the lab, the CPU recipe and the scaled-up ResNet: an empty glob proves nothing.
    assert {"cpu_short", "fashionmnist", "mnist", "emnist", "svhn", "celeba"} <= {path.stem for path in paths}
    for path in paths:
        assert isinstance(load_config(path), Config), path  # load_config raises on any invalid key or value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"optimizer": {}}, "unknown key 'optimizer'"),
        ({"model": {"latent": 10}}, "allowed here: dnoise, discriminator_base_c"),
        ({"data": {"batch_size": 0}}, "data.batch_size: Input should be greater than or equal to 1"),
        ({"optim": {"lblsmooth": 1.5}}, "optim.lblsmooth"),
        ({"optim": {"base_lr": -1}}, "optim.base_lr"),
        ({"model": {"dropout": 1.0}}, "model.dropout"),
        ({"data": "FashionMNIST"}, "data: expected a section"),
        ({"optim": {"nepochs": 100_001}}, "use a whole number from 1 to 100,000"),
        ({"optim": {"critic_steps": 101}}, "use 1 to 100 critic updates per generator update"),
    ],
)
def test_each_mistake_names_its_key(raw, expected):
    with pytest.raises(GanlabError, match=expected.replace("(", r"\(").replace(".", r"\.")) as info:
        parse_config(raw)
    assert "\n" not in str(info.value)


def test_the_minimal_config_an_empty_one_shows_is_valid():
    assert parse_config(yaml.safe_load("{" + MINIMAL_CONFIG + "}")).optim.nepochs == 5
