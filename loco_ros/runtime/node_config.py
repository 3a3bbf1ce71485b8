"""Configuration of the pose node (ROS-free): ROS parameters and YAML map onto it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from loco_ros.config import ModelConfig, _require, from_dict
from loco_ros.decoding.ground_plane import GroundPlaneConfig
from loco_ros.errors import ConfigError
from loco_ros.runtime.tracking import TrackingConfig

MAX_FRAME_QUEUE = 300  # frames held in memory at most (300 full-HD RGB frames: 1.9 GB)


@dataclass(frozen=True)
class NodeConfig:
    """Everything loco_node reads on configure; see config/loco.yaml for the documentation."""

    model_dir: str = ""  # model.yaml + *.safetensors; "" = the bundled demo model
    backend: str = "auto"  # auto | tensorrt | torch | onnxruntime
    device: str = "cuda"  # preferred device: cuda | cpu (cuda falls back to cpu, logged)
    precision: str = "fp16"  # fp16 | fp32 (TensorRT); int8 (ONNX Runtime on the CPU)
    engine_cache_dir: str = ""  # "" = ~/.cache/loco_ros/engines
    cuda_device: int = 0  # CUDA device index (torch, TensorRT, onnxruntime's CUDA EP)
    cpu_threads: int = 0  # intra-op threads of torch and onnxruntime on the CPU; 0 = defaults
    decode_threshold: float = 0.0  # peak threshold in (0, 1); 0 = the model's (model.yaml)
    min_joints: int = 0  # people with fewer detected joints are dropped; 0 = the model's
    input_qos: str = "sensor_data"  # sensor_data | reliable | system_default
    frame_queue: int = 1  # frames waiting for the worker; 1 = newest only; oldest skipped if full
    camera_info_mode: str = "latest"  # latest | exact (same stamp as the image)
    image_is_rectified: bool = False  # True: image_rect (CameraInfo.p); False: raw (k, d)
    fallback_fx: float = 0.0  # used only without CameraInfo; 0 = no fallback
    fallback_fy: float = 0.0
    fallback_cx: float = 0.0
    fallback_cy: float = 0.0
    max_image_pixels: int = 7680 * 4320  # larger images are rejected before any allocation
    publish_markers: bool = True
    marker_lifetime_s: float = 1.0
    debug_image: bool = True  # drawn only while someone subscribes
    diagnostics_period_s: float = 1.0
    diagnostics_window_s: float = 10.0  # faults in the last this many seconds set the level
    stale_input_s: float = 5.0  # WARN after this long without an image / new CameraInfo; 0 = off
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    ground_plane: GroundPlaneConfig = field(default_factory=GroundPlaneConfig)
    autostart: bool = True

    def __post_init__(self) -> None:
        _require(self.backend in ("auto", "tensorrt", "torch", "onnxruntime"),
                 f"backend must be auto|tensorrt|torch|onnxruntime, not {self.backend!r}")
        _require(self.device in ("cuda", "cpu"), f"device must be cuda|cpu, not {self.device!r}")
        _require(self.precision in ("fp16", "fp32", "int8"), "precision must be fp16|fp32|int8")
        _require(self.input_qos in ("sensor_data", "reliable", "system_default"),
                 f"input_qos must be sensor_data|reliable|system_default, not {self.input_qos!r}")
        _require(self.camera_info_mode in ("latest", "exact"),
                 "camera_info_mode must be latest|exact")
        fallback = (self.fallback_fx, self.fallback_fy, self.fallback_cx, self.fallback_cy)
        _require(all(v >= 0 for v in fallback), "fallback intrinsics must be >= 0")
        _require(self.max_image_pixels > 0, "max_image_pixels must be > 0")
        _require(1 <= self.frame_queue <= MAX_FRAME_QUEUE,
                 f"frame_queue must be in [1, {MAX_FRAME_QUEUE}], not {self.frame_queue}")
        _require(self.marker_lifetime_s >= 0, "marker_lifetime_s must be >= 0")
        _require(self.diagnostics_period_s > 0, "diagnostics_period_s must be > 0")
        _require(self.diagnostics_window_s > 0, "diagnostics_window_s must be > 0")
        _require(self.stale_input_s >= 0, "stale_input_s must be >= 0")
        _require(self.cuda_device >= 0, "cuda_device must be >= 0")
        _require(self.cpu_threads >= 0, "cpu_threads must be >= 0 (0 = library defaults)")
        _require(self.decode_threshold == 0 or 0 < self.decode_threshold < 1,
                 "decode_threshold must be in (0, 1), or 0 for the model's")
        _require(0 <= self.min_joints <= 14, "min_joints must be in [1, 14], or 0 for the model's")

    @property
    def has_fallback_intrinsics(self) -> bool:
        """True when fallback fx and fy are set."""
        return self.fallback_fx > 0 and self.fallback_fy > 0


def with_decoding(model: ModelConfig, config: NodeConfig) -> ModelConfig:
    """The model's config with the node's decode_threshold / min_joints where set (> 0)."""
    decode, association = model.decode, model.association
    if config.decode_threshold > 0:
        decode = replace(decode, threshold=config.decode_threshold)
    if config.min_joints > 0:
        association = replace(association, min_joints=config.min_joints)
    return replace(model, decode=decode, association=association)


def load_params_file(path: str | Path, node_name: str = "loco_node") -> NodeConfig:
    """The NodeConfig of a ROS 2 parameters file (config/loco.yaml): the ``ros__parameters``
    of ``/**`` updated by those of ``node_name``; dotted keys (``tracking.enabled``) allowed.
    ConfigError names an unreadable file or an unknown or invalid key."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read parameters file {path}: {err}") from err
    flat: dict[str, Any] = {}
    for key in ("/**", node_name, f"/{node_name}"):
        section = data.get(key, {}) if isinstance(data, dict) else {}
        flat.update(flatten(section.get("ros__parameters", {})))
    return from_dict(NodeConfig, unflatten(flat))


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted parameter names (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted parameter names -> nested mappings; the inverse of :func:`flatten`."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        level = nested
        for part in parents:
            level = level.setdefault(part, {})
        level[leaf] = value
    return nested
