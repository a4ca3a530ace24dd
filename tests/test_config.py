"""Config validation: the page's YAML is accepted, every mistake is one clear line."""

from __future__ import annotations

import pytest

from ganlab.config import Config, load_config, parse_config
from ganlab.errors import GanlabError

from .helpers import ROOT, run_cli, write_yaml

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


def test_the_lab_page_config_is_accepted_as_is(tmp_path):
    config = load_config(write_yaml(tmp_path / "c.yaml", LAB_PAGE_YAML))
    assert config.data.dataset == "MNIST" and config.optim.nepochs == 200 and config.model.latent_size == 100


def test_defaults_are_the_lab_page_values():
    c = Config()
    assert (c.data.batch_size, c.optim.base_lr, c.optim.wdecay, c.optim.lblsmooth, c.optim.nepochs) == (
        256,
        2e-4,
        0.0,
        0.2,
        200,
    )
    assert (c.model.dnoise, c.model.discriminator_base_c, c.model.generator_base_c) == (0.1, 32, 256)
    assert (c.model.latent_size, c.model.dropout) == (100, 0.5)
    assert c.critic_lr == c.generator_lr == 2e-4


def test_shipped_configs_are_valid():
    paths = sorted((ROOT / "configs").glob("*.yaml"))
    # One per dataset of the lab, the CPU recipe and the scaled-up ResNet: an empty glob proves nothing.
    assert {"cpu_short", "fashionmnist", "mnist", "emnist", "svhn", "celeba"} <= {path.stem for path in paths}
    for path in paths:
        assert isinstance(load_config(path), Config), path  # load_config raises on any invalid key or value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"data": {"batchsize": 64}}, "unknown key 'data.batchsize'"),
        ({"optimizer": {}}, "unknown key 'optimizer'"),
        ({"model": {"latent": 10}}, "allowed here: dnoise, discriminator_base_c"),
        ({"data": {"batch_size": "big"}}, "data.batch_size"),
        ({"data": {"batch_size": 0}}, "data.batch_size: Input should be greater than or equal to 1"),
        ({"optim": {"lblsmooth": 1.5}}, "optim.lblsmooth"),
        ({"optim": {"base_lr": -1}}, "optim.base_lr"),
        ({"model": {"dropout": 1.0}}, "model.dropout"),
        ({"data": {"dataset": "CIFAR10"}}, "data.dataset: 'CIFAR10' is not allowed"),
        ({"data": "FashionMNIST"}, "data: expected a section"),
        ({"device": "tpu"}, "device must be"),
        ({"optim": {"nepochs": 10**30}}, "optim.nepochs"),
        ({"optim": {"nepochs": 100_001}}, "use a whole number from 1 to 100,000"),
        ({"optim": {"critic_steps": 101}}, "use 1 to 100 critic updates per generator update"),
    ],
)
def test_each_mistake_names_its_key(raw, expected):
    with pytest.raises(GanlabError, match=expected.replace("(", r"\(").replace(".", r"\.")) as info:
        parse_config(raw)
    assert "\n" not in str(info.value)


def test_malformed_yaml_gives_the_line(tmp_path):
    path = write_yaml(tmp_path / "bad.yaml", "data:\n  dataset: [unclosed\n")
    with pytest.raises(GanlabError, match=r"malformed YAML at line \d+"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(GanlabError, match="top level must be a mapping"):
        load_config(write_yaml(tmp_path / "list.yaml", "- 1\n- 2\n"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("data: {batchsize: 4}\n", "unknown key 'data.batchsize'"),
        ("data: [\n", "malformed YAML"),
        (
            "data: {rootdir: /nonexistent/place, dataset: FashionMNIST, debug: true}\n",
            "no FashionMNIST data found in /nonexistent/place",
        ),
        ("data: {dataset: ImageFolder, rootdir: IMAGES, image_size: 30, debug: true}\n", "cannot make 30x30 images"),
        ("data: {dataset: FashionMNIST, image_size: 32}\n", "FashionMNIST images are 28x28"),
    ],
)
def test_cli_reports_one_error_line_and_writes_nothing(tmp_path, cli, content, expected):
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.new("RGB", (40, 40), "white").save(images / "a.png")
    logdir = tmp_path / "logs"
    text = content.replace("IMAGES", str(images)) + f"logging: {{logdir: {logdir}}}\ndevice: cpu\n"
    result = cli("train", str(write_yaml(tmp_path / "c.yaml", text)))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert not logdir.exists() or not any(logdir.iterdir())


@pytest.mark.slow
def test_missing_config_file_in_a_real_process():
    """The exit status and the one line as a shell sees them (the in-process catalogue covers the rest)."""
    result = run_cli("train", "/nonexistent/config.yaml")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: config file /nonexistent/config.yaml does not exist: pass the path")


@pytest.mark.parametrize("content", ["", "# only a comment\n", "{}\n"])
def test_an_empty_config_is_an_error_showing_a_minimal_one(tmp_path, content):
    import yaml

    from ganlab.config import MINIMAL_CONFIG

    with pytest.raises(GanlabError, match="is empty: a minimal config is data: ") as info:
        load_config(write_yaml(tmp_path / "c.yaml", content))
    assert "\n" not in str(info.value)
    assert parse_config(yaml.safe_load("{" + MINIMAL_CONFIG + "}")).optim.nepochs == 5  # the shown one is valid


def test_a_config_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("data: {rootdir: caf\u00e9}\n".encode("latin-1"))
    with pytest.raises(GanlabError, match="is not UTF-8 text"):
        load_config(path)
