"""ParameterDescriptors of loco_node: a description and, for numbers, the range.

``ros2 param describe /loco_node <name>`` shows them; a value outside its range is refused
when set at run time. The ranges are the outer bounds; NodeConfig checks the rest (e.g. > 0)
and names the parameter (see ``loco_ros.runtime.node_config``). LIVE parameters take effect at once
when set on a configured node; the others at the next configure.
"""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from loco_ros.runtime.node_config import MAX_FRAME_QUEUE

RESET_PARAMETER = "ground_plane.reset"
# Parameters of mode auto read at configure only: the calibration keeps its state.
AT_CONFIGURE = ("ground_plane.mode", "ground_plane.calibration_file", "ground_plane.auto.")

# ground_plane.auto.*: name -> (description, (low, high)); 0 = SelfCalibrationConfig's.
_AUTO: dict[str, tuple[str, tuple[float, float]]] = {
    "ground_plane.auto.stature_mean_m": ("auto: mean upright stature of the people seen (m)",
                                         (0.0, 2.2)),
    "ground_plane.auto.stature_std_m": ("auto: spread (1 sigma) of their stature (m)",
                                        (0.0, 0.5)),
    "ground_plane.auto.pixel_sigma_px": ("auto: joint pixel error of the detector (px)",
                                         (0.0, 50.0)),
    "ground_plane.auto.min_person_px": ("auto: people shorter than this in the image (sized "
                                        "from neck to knees) are not used (px)",
                                        (0.0, 100000.0)),
    "ground_plane.auto.min_frames": ("auto: frames with standing people before converging",
                                     (0, 1000000)),
    "ground_plane.auto.min_people": ("auto: distinct people before converging", (0, 100000)),
    "ground_plane.auto.max_height_std": ("auto: converged when the height's 1 sigma is at "
                                         "most this fraction of it (0.05)", (0.0, 1.0)),
    "ground_plane.auto.max_angle_std_deg": ("auto: converged when pitch's and roll's 1 sigma "
                                            "are at most this (deg, 1.2)", (0.0, 20.0)),
    "ground_plane.auto.max_depth_std_ratio": ("auto: converged when the plane's depth "
                                              "uncertainty for the people seen is at most "
                                              "this times the stature spread (0.5)",
                                              (0.0, 100.0)),
    "ground_plane.auto.max_height_change": ("auto: converged when two refits in a row agree "
                                            "on the height within this fraction (0.03)",
                                            (0.0, 1.0)),
    "ground_plane.auto.max_angle_change_deg": ("auto: ... and on pitch and roll within this "
                                               "(deg; 0.5)", (0.0, 90.0)),
    "ground_plane.auto.capacity": ("auto: observations kept (memory and refit cost; 600)",
                                   (0, 100000)),
    "ground_plane.auto.refit_every_frames": ("auto: frames between refits while calibrating "
                                             "(30)", (0, 100000)),
    "ground_plane.auto.refit_every_converged_frames": ("auto: frames between refits once "
                                                       "converged, a multiple of "
                                                       "refit_every_frames (120)",
                                                       (0, 1000000)),
    "ground_plane.auto.grid_every_refits": ("auto: a grid search over pitch and roll every "
                                            "this many refits (10; x4 once converged)",
                                            (0, 100000)),
    "ground_plane.auto.misfit_frames": ("auto: the misfit check scores the people of this "
                                        "many recent frames (60)", (0, 100000)),
    "ground_plane.auto.misfit_outlier_fraction": ("auto: misfit when more than this share of "
                                                  "the recent people are outliers (0.5)",
                                                  (0.0, 1.0)),
    "ground_plane.auto.misfit_stature_bias": ("auto: misfit when their median stature is off "
                                              "by more than this (log ratio; 0.12)",
                                              (0.0, 10.0)),
    "ground_plane.auto.misfit_patience": ("auto: refits in a row that do not fit the recent "
                                          "people before starting over", (0, 1000)),
}

# name -> (description, (low, high) or None)
SPECS: dict[str, tuple[str, tuple[float, float] | None]] = {
    "model_dir": ("model.yaml + *.safetensors; '' = the bundled demo model", None),
    "backend": ("inference backend: auto | tensorrt | torch | onnxruntime", None),
    "device": ("preferred device: cuda | cpu (cuda falls back to cpu, logged)", None),
    "precision": ("fp16 | fp32: TensorRT engine precision; int8: the ONNX Runtime CPU graph "
                  "quantised on the model's calibration frames (TensorRT builds fp16 then)", None),
    "engine_cache_dir": ("ONNX exports and TensorRT engines ('loco export' fills it); '' = "
                         "~/.cache/loco_ros/engines", None),
    "cuda_device": ("CUDA device index (torch, TensorRT, onnxruntime's CUDA EP)", (0, 63)),
    "cpu_threads": ("intra-op threads of torch and onnxruntime on the CPU; 0 = library "
                    "defaults", (0, 1024)),
    "decode_threshold": ("peak threshold of the decoded volume, in (0, 1); 0 = the model's "
                         "(live)", (0.0, 1.0)),
    "min_joints": ("people with fewer detected joints are dropped; 0 = the model's (live)",
                   (0, 14)),
    "input_qos": ("QoS of image and camera_info: sensor_data | reliable | system_default",
                  None),
    "frame_queue": ("frames waiting for the worker: 1 = newest only (live cameras); more keeps "
                    "every frame of a replay while the worker catches up; when full the "
                    "oldest is skipped and counted", (1, MAX_FRAME_QUEUE)),
    "camera_info_mode": ("latest: newest CameraInfo; exact: the one with the image's stamp",
                         None),
    "fallback_fx": ("focal x (px) used only without CameraInfo; 0 = no fallback", (0.0, 1e6)),
    "fallback_fy": ("focal y (px) used only without CameraInfo", (0.0, 1e6)),
    "fallback_cx": ("principal point x (px) used only without CameraInfo", (0.0, 1e6)),
    "fallback_cy": ("principal point y (px) used only without CameraInfo", (0.0, 1e6)),
    "max_image_pixels": ("larger images are rejected before any allocation", (1, 2**40)),
    "publish_markers": ("publish people/markers (live)", None),
    "marker_lifetime_s": ("lifetime of the RViz markers (s) (live)", (0.0, 3600.0)),
    "debug_image": ("draw people/debug_image while someone subscribes (live)", None),
    "diagnostics_period_s": ("period of /diagnostics (s)", (0.001, 3600.0)),
    "diagnostics_window_s": ("faults in the last this many seconds set the diagnostics level "
                             "(live)", (0.001, 86400.0)),
    "stale_input_s": ("WARN after this long without an image or a new CameraInfo; 0 = off "
                      "(live)", (0.0, 86400.0)),
    "autostart": ("configure + activate at start-up (false: wait for a lifecycle manager)",
                  None),
    "tracking.enabled": ("track people (false: every id is '') (live)", None),
    "tracking.gate_m": ("association gate on the mean joint distance (m) (live)",
                        (0.0, 100.0)),
    "tracking.gate_growth_m_per_s": ("gate growth per second unseen (m/s) (live)",
                                     (0.0, 100.0)),
    "tracking.min_hits": ("consecutive hits before a track gets an id (live)", (1, 1000)),
    "tracking.max_misses": ("consecutive misses before a track is deleted (live)",
                            (1, 100000)),
    "tracking.smoothing": ("One Euro filter per joint coordinate (live)", None),
    "tracking.min_cutoff": ("One Euro minimum cut-off (Hz) (live)", (0.0, 1000.0)),
    "tracking.beta": ("One Euro speed coefficient (live)", (0.0, 1000.0)),
    "tracking.d_cutoff": ("One Euro derivative cut-off (Hz) (live)", (0.0, 1000.0)),
    "ground_plane.mode": ("ground-plane prior: off | fixed | tf | auto (at the next "
                          "configure)", None),
    "ground_plane.camera_height_m": ("fixed: optical centre above flat ground (m) (live)",
                                     (0.0, 1000.0)),
    "ground_plane.pitch_deg": ("fixed: camera pitched down (deg) (live)", (-89.0, 89.0)),
    "ground_plane.roll_deg": ("fixed: camera roll about its optical axis (deg) (live)",
                              (-89.0, 89.0)),
    "ground_plane.ground_frame": ("tf: frame whose z = 0 plane is the ground; auto: the "
                                  "parent frame of ~/ground_estimate (live)", None),
    "ground_plane.tf_timeout_s": ("tf: longest wait for the transform (s) (live)", (0.0, 1.0)),
    "ground_plane.ankle_height_m": ("ankle joint above the ground when standing (m) (live)",
                                    (0.0, 0.5)),
    "ground_plane.max_depth_change": ("larger relative corrections are not made (live)",
                                      (0.0, 10.0)),
    "ground_plane.calibration_file": ("auto: YAML of the learnt ground, loaded at configure, "
                                      "saved at deactivate and shutdown; '' = none", None),
    **{name: (f"{text}; 0 = the estimator's default", bounds)
       for name, (text, bounds) in _AUTO.items()},
    RESET_PARAMETER: ("auto: set true to forget the learnt ground and start over (flips back "
                      "to false); the service ~/reset_ground_calibration does the same", None),
}

LIVE_PREFIXES = ("tracking.", "ground_plane.")
LIVE = frozenset({"decode_threshold", "min_joints", "publish_markers", "marker_lifetime_s",
                  "debug_image", "diagnostics_window_s", "stale_input_s"})


def is_live(name: str) -> bool:
    """True when a change of ``name`` applies to a configured node at once."""
    if name.startswith(AT_CONFIGURE):
        return False
    return name in LIVE or name.startswith(LIVE_PREFIXES)


def descriptor(name: str, default: object, with_range: bool = True) -> ParameterDescriptor:
    """The descriptor of ``name`` (type inferred from ``default`` by the caller's
    declare_parameter); unknown names get a pointer to config/loco.yaml."""
    text, bounds = SPECS.get(name, ("see config/loco.yaml", None))
    out = ParameterDescriptor(description=text)
    if not with_range or bounds is None or isinstance(default, bool):
        return out
    low, high = bounds
    if isinstance(default, int):
        out.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=0)]
    elif isinstance(default, float):
        out.floating_point_range = [FloatingPointRange(from_value=float(low),
                                                       to_value=float(high), step=0.0)]
    return out
