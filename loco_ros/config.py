"""Frozen configuration dataclasses, one adapter from plain dicts (YAML, ROS parameters).

Every section validates itself in ``__post_init__`` and raises :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from loco_ros.errors import ConfigError

BACKBONES = ("compact", "inception_v3", "efficientnet_lite0")  # loco_ros.model.backbones

T = TypeVar("T")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class GridConfig:
    """Volumetric heatmap grid for one network input size (see docs/CONVENTIONS.md)."""

    image_width: int = 512
    image_height: int = 288
    stride: int = 8
    depth_bins: int = 64
    depth_min_m: float = 0.0
    depth_max_m: float = 32.0
    depth_axis: str = "distance"  # "distance" (||X||, JTA) or "z"
    sigma: float = 2.0  # Gaussian exp(-r^2 / sigma^2) in voxel units
    focal_px: float = 400.0  # canonical focal length in network-input pixels

    def __post_init__(self) -> None:
        _require(self.image_width > 0 and self.image_height > 0, "image size must be > 0")
        _require(self.image_width * self.image_height <= 8192 * 8192, "image size is absurd")
        _require(self.stride == 8, "stride must be 8 (the VHA and predictor assume it)")
        _require(8 <= self.depth_bins <= 1024, "depth_bins must be in [8, 1024]")
        _require(self.depth_max_m > self.depth_min_m >= 0.0, "need 0 <= depth_min_m < max")
        _require(self.depth_axis in ("distance", "z"), "depth_axis must be distance or z")
        _require(0.0 < self.sigma <= 16.0, "sigma must be in (0, 16]")
        _require(self.focal_px > 0.0 and math.isfinite(self.focal_px), "focal_px must be > 0")

    @property
    def height(self) -> int:
        """Heatmap rows H = 8 * ceil(Hi / 64)."""
        return 8 * math.ceil(self.image_height / 64)

    @property
    def width(self) -> int:
        """Heatmap columns W = 8 * ceil(Wi / 64)."""
        return 8 * math.ceil(self.image_width / 64)

    @property
    def depth_step_m(self) -> float:
        """Metres per depth bin."""
        return (self.depth_max_m - self.depth_min_m) / (self.depth_bins - 1)


@dataclass(frozen=True)
class VHAConfig:
    """Volumetric Heatmap Autoencoder version (paper Table 1)."""

    version: int = 2

    def __post_init__(self) -> None:
        _require(self.version in (1, 2, 3), "vha.version must be 1, 2 or 3")


@dataclass(frozen=True)
class PredictorConfig:
    """Code predictor: backbone name and head width."""

    backbone: str = "compact"  # one of BACKBONES
    head_channels: tuple[int, int, int] = (1024, 512, 256)

    def __post_init__(self) -> None:
        _require(self.backbone in BACKBONES, f"predictor.backbone must be one of {BACKBONES}")
        _require(len(self.head_channels) == 3, "predictor.head_channels needs 3 values")
        _require(all(c > 0 for c in self.head_channels), "head_channels must be > 0")


@dataclass(frozen=True)
class DecodeConfig:
    """Peak finding on the decoded volume."""

    threshold: float = 0.1
    neighbourhood: int = 26  # 26 (authors' code) or 6 (paper text)
    subvoxel: bool = True

    def __post_init__(self) -> None:
        _require(0.0 < self.threshold < 1.0, "decode.threshold must be in (0, 1)")
        _require(self.neighbourhood in (6, 26), "decode.neighbourhood must be 6 or 26")


@dataclass(frozen=True)
class AssociationConfig:
    """Grouping of 3D joint candidates into people."""

    method: str = "greedy"  # "greedy" (the paper) or "hungarian"
    min_joints: int = 1  # people with fewer detected joints are dropped
    # > 0: a person whose joints lie, on average, within this share of a stronger person's
    # image height of that person's is the same person seen at another depth: dropped.
    duplicate_frac: float = 0.0

    def __post_init__(self) -> None:
        _require(self.method in ("greedy", "hungarian"), "association.method: greedy|hungarian")
        _require(1 <= self.min_joints <= 14, "association.min_joints must be in [1, 14]")
        _require(0.0 <= self.duplicate_frac < 1.0, "association.duplicate_frac must be in [0, 1)")


@dataclass(frozen=True)
class RefinerConfig:
    """Pose refiner MLP."""

    enabled: bool = True
    hidden: int = 128

    def __post_init__(self) -> None:
        _require(self.hidden > 0, "refiner.hidden must be > 0")


@dataclass(frozen=True)
class ModelConfig:
    """Everything a trained model needs to run: one YAML file next to its weights."""

    grid: GridConfig = field(default_factory=GridConfig)
    vha: VHAConfig = field(default_factory=VHAConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    association: AssociationConfig = field(default_factory=AssociationConfig)
    refiner: RefinerConfig = field(default_factory=RefinerConfig)


def _convert(value: Any, hint: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = typing.get_args(hint)[0]
        return tuple(_convert(v, inner, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is not hint:
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "") -> T:
    """Build the frozen dataclass ``cls`` from a nested dict; unknown keys are errors."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or cls.__name__}: unknown key(s) {unknown}")
    kwargs = {
        k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()
    }
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{where or cls.__name__}: {err}") from err


def to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (tuples become lists), for YAML."""

    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Load ``cls`` from a YAML file (safe loader)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from err
    return from_dict(cls, data, "")


def save_yaml(config: Any, path: str | Path) -> None:
    """Write a config dataclass as YAML."""
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
