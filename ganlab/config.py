"""The training configuration: the lab page's YAML (sections, keys and defaults), validated.

Keys of our own (``valid_ratio``, ``amp``, ``ema``...) default to the lab's behaviour. Unknown keys, wrong
types and impossible values are rejected with one line that names the key and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import GanlabError

DATASETS = ("MNIST", "FashionMNIST", "EMNIST", "SVHN", "CelebA", "ImageFolder")
# Where Debian's dataset-fashion-mnist installs the four idx files: the kit's offline default.
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
MAX_EPOCHS = 100_000
# Why a bound exists, added to the message when a value is outside it.
REASONS = {
    "optim.nepochs": f"use a whole number from 1 to {MAX_EPOCHS:,} (the lab's runs take 200)",
    "optim.critic_steps": "use 1 to 100 critic updates per generator update (1 for BCE and hinge, 5 for WGAN-GP)",
}
MINIMAL_CONFIG = f"data: {{dataset: FashionMNIST, rootdir: {FASHION_MNIST_ROOT}}}, optim: {{nepochs: 5}}, logging: {{logdir: ./logs}}"


class _Section(BaseModel):
    # extra="forbid" is what turns a typo'd key into an error instead of a silent default.
    model_config = ConfigDict(extra="forbid", strict=False, validate_assignment=True)


class DataConfig(_Section):
    dataset: Literal[DATASETS] = "FashionMNIST"  # type: ignore[valid-type]
    rootdir: str = FASHION_MNIST_ROOT
    debug: bool = False
    batch_size: int = Field(256, ge=1)
    valid_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    max_images: int | None = Field(None, ge=2)  # only the dataset's first images, before the split (short runs)
    image_size: int | None = Field(None, ge=7)
    num_workers: int = Field(2, ge=0)
    prefetch_factor: int = Field(2, ge=1)
    pin_memory: bool = True
    download: bool = False


class OptimConfig(_Section):
    base_lr: float = Field(0.0002, gt=0.0)
    wdecay: float = Field(0.0, ge=0.0)
    lblsmooth: float = Field(0.2, ge=0.0, lt=1.0)
    nepochs: int = Field(200, ge=1, le=MAX_EPOCHS)
    loss: Literal["bce", "hinge", "wgan-gp"] = "bce"
    critic_steps: int = Field(1, ge=1, le=100)
    gp_weight: float = Field(10.0, ge=0.0)
    critic_lr: float | None = Field(None, gt=0.0)
    generator_lr: float | None = Field(None, gt=0.0)
    ema: float = Field(0.0, ge=0.0, lt=1.0)
    # Speed options (bench/epoch_time.py measures each): bf16 autocast, NHWC tensors,
    # torch.compile, and whole training steps replayed as CUDA graphs (CUDA only).
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    cuda_graph: bool = False


class LoggingConfig(_Section):
    logdir: str = "./logs"
    onnx_every: int = Field(1, ge=0)


class ModelConfig(_Section):
    dnoise: float = Field(0.1, ge=0.0)
    discriminator_base_c: int = Field(32, ge=1)
    generator_base_c: int = Field(256, ge=4)
    latent_size: int = Field(100, ge=1)
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    architecture: Literal["dcgan", "resnet"] = "dcgan"
    upsample: Literal["nearest", "bilinear"] | None = None
    spectral_norm: bool = False
    self_attention: bool = False
    sync_batchnorm: bool = False

    @model_validator(mode="after")
    def _check_architecture(self) -> ModelConfig:
        if self.self_attention and self.architecture != "resnet":
            raise ValueError("self_attention needs architecture: resnet")
        return self

    @property
    def upsample_mode(self) -> str:
        """The lab's DCGAN upsamples bilinearly; the ResNet GAN with nearest neighbours."""
        return self.upsample or ("bilinear" if self.architecture == "dcgan" else "nearest")


class Config(_Section):
    """The whole configuration; ``Config()`` gives the lab page's defaults."""

    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    logging: LoggingConfig = LoggingConfig()
    model: ModelConfig = ModelConfig()
    seed: int = 0
    device: str = "auto"

    @field_validator("device")
    @classmethod
    def _check_device(cls, device: str) -> str:
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ValueError("device must be 'auto', 'cpu' or 'cuda[:N]'")
        return device

    @property
    def critic_lr(self) -> float:
        return self.optim.critic_lr or self.optim.base_lr

    @property
    def generator_lr(self) -> float:
        return self.optim.generator_lr or self.optim.base_lr


def _describe(err: dict[str, Any]) -> str:
    """One human sentence for the first pydantic error."""
    loc = ".".join(str(p) for p in err["loc"]) or "<top level>"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent: type[BaseModel] = Config
        for part in err["loc"][:-1]:
            parent = parent.model_fields[str(part)].annotation  # type: ignore[assignment]
        return f"unknown key '{loc}' (allowed here: {', '.join(parent.model_fields)})"
    if kind == "literal_error":
        return f"{loc}: {err['input']!r} is not allowed ({err['msg'].replace('Input should be ', 'expected ')})"
    if kind == "model_type":
        return f"{loc}: expected a section (a mapping of keys), got {err['input']!r}"
    if kind == "value_error":  # our own validators: their message is the sentence
        return f"{loc}: {err['msg'].removeprefix('Value error, ')}"
    reason = f": {REASONS[loc]}" if loc in REASONS else ""
    return f"{loc}: {err['msg']} (got {err['input']!r}){reason}"


def parse_config(raw: Any, source: str = "config") -> Config:
    """Validate a mapping (as read from YAML) into a :class:`Config`."""
    if not isinstance(raw, dict):
        raise GanlabError(f"{source}: the top level must be a mapping with sections data/optim/logging/model")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise GanlabError(f"{source}: {_describe(exc.errors()[0])}") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; every problem is a :class:`GanlabError`."""
    path = Path(path)
    if path.is_dir():
        raise GanlabError(f"config file {path} is a folder: pass the path of a YAML file (see configs/)")
    if not path.is_file():
        raise GanlabError(f"config file {path} does not exist: pass the path of a YAML file (see configs/)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise GanlabError(
            f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8, or check it is the YAML file you meant"
        ) from None
    except OSError as exc:
        raise GanlabError(f"cannot read config file {path} ({exc.strerror}): check its permissions") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise GanlabError(f"{path}: malformed YAML{where}: {problem}") from None
    if raw is None or raw == {}:
        # Silently training the 200-epoch defaults is never what an empty file meant.
        raise GanlabError(f"{path} is empty: a minimal config is {MINIMAL_CONFIG} (see configs/fashionmnist.yaml)")
    return parse_config(raw, str(path))


def dump_config(config: Config) -> str:
    """The resolved config as YAML, in section order."""
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
