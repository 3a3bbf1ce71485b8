"""A DiagnosticArray of the node's health from its RuntimeStats.

The level looks at a recent window only (``HealthPolicy.window_s``): a rejected frame makes
the status WARN for that long, then it is OK again; the cumulative counters stay in the
values. Inputs that stop coming are reported too: no image for ``stale_after_s`` while
active, or a CameraInfo that stopped while images keep coming. In ground_plane.mode auto the
message says while the ground is still being learnt (OK: people keep the image-only depth),
and a self-calibration that started over by itself (the camera moved, the floor does not
fit) or a calibration file that could not be read or written is a WARN for the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from loco_ros.runtime.stats import RuntimeStats, StatsSnapshot

# Names of RuntimeStats events the node records and the diagnostics read.
IMAGE_EVENT = "frames_in"
CAMERA_INFO_EVENT = "camera_info_in"
ACTIVATED_EVENT = "activated"
GROUND_RESTART_EVENT = "ground_calibration_restarts"
GROUND_FILE_ERROR_EVENT = "ground_calibration_file_errors"
CALIBRATION_STATE = "ground_calibration_state"  # facts key: calibrating | converged


@dataclass(frozen=True)
class HealthPolicy:
    """window_s: faults counted over this many seconds set the level. stale_after_s: no image
    (while active) or no new CameraInfo (while images come) for this long is a WARN; 0 = off."""

    window_s: float = 10.0
    stale_after_s: float = 5.0


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, float):
        value = "nan" if math.isnan(value) else f"{value:.2f}"
    return KeyValue(key=key, value=str(value))


def input_ages(snapshot: StatsSnapshot) -> tuple[float, float]:
    """(seconds without an image since activation, seconds since the last CameraInfo); NaN
    when not active / never received."""
    activated = snapshot.ages_s.get(ACTIVATED_EVENT)
    image = snapshot.ages_s.get(IMAGE_EVENT)
    if activated is None:
        image_age = float("nan")
    else:
        image_age = activated if image is None else min(image, activated)
    return image_age, snapshot.ages_s.get(CAMERA_INFO_EVENT, float("nan"))


def assess(snapshot: StatsSnapshot, facts: dict[str, object],
           policy: HealthPolicy) -> tuple[int, str]:
    """(DiagnosticStatus level, message) from the recent window and the input ages."""
    errors: list[str] = []
    warnings: list[str] = []
    window = f"in the last {policy.window_s:g} s"
    internal = snapshot.recent.get("errors_internal", 0)
    if internal:
        errors.append(f"{internal} frame(s) failed {window}")
    active = facts.get("lifecycle_state") == "active"
    image_age, info_age = input_ages(snapshot)
    stale = policy.stale_after_s
    if not facts.get("camera_info_ok", True):
        warnings.append("no usable intrinsics")
    if active and stale > 0 and image_age > stale:
        warnings.append(f"no image for {image_age:.1f} s")
    elif active and stale > 0 and info_age > stale:
        warnings.append(f"CameraInfo stale: last one {info_age:.1f} s ago")
    rejected = snapshot.recent_with_prefix("rejected_")
    if rejected:
        warnings.append(f"{rejected} frame(s) rejected {window}")
    dropped = snapshot.recent.get("peaks_dropped", 0)
    if dropped:
        warnings.append(f"{dropped} peak(s) dropped by a full GPU peak buffer {window}")
    warnings += ground_calibration_warnings(snapshot, window)
    notes = []
    if facts.get(CALIBRATION_STATE) == "calibrating":
        notes.append("ground plane calibrating (depth from the image only)")
    if errors:
        return DiagnosticStatus.ERROR, "; ".join(errors + warnings + notes)
    if warnings:
        return DiagnosticStatus.WARN, "; ".join(warnings + notes)
    return DiagnosticStatus.OK, "; ".join(["ok", *notes])


def ground_calibration_warnings(snapshot: StatsSnapshot, window: str) -> list[str]:
    """Recent faults of the ground self-calibration (mode auto)."""
    out = []
    restarts = snapshot.recent.get(GROUND_RESTART_EVENT, 0)
    if restarts:
        out.append(f"ground calibration started over {window} (camera moved, or the floor "
                   "or the people do not fit a flat ground)")
    file_errors = snapshot.recent.get(GROUND_FILE_ERROR_EVENT, 0)
    if file_errors:
        out.append(f"ground calibration file unreadable or not written {window}")
    return out


def build_diagnostics(
    name: str, hardware_id: str, stats: RuntimeStats, facts: dict[str, object], header: Header,
    policy: HealthPolicy | None = None,
) -> DiagnosticArray:
    """One DiagnosticStatus: rates, counters (skipped, rejected by reason), their recent
    counts, input ages, latencies p50/p95; the level per ``assess``."""
    policy = policy or HealthPolicy()
    snapshot = stats.snapshot(policy.window_s)
    image_age, info_age = input_ages(snapshot)
    values = [_kv(key, value) for key, value in facts.items()]
    values += [
        _kv("input_rate_hz", stats.rate_hz(IMAGE_EVENT)),
        _kv("output_rate_hz", stats.rate_hz("frames_out")),
        _kv("image_age_s", image_age),
        _kv("camera_info_age_s", info_age),
        _kv("recent_window_s", float(policy.window_s)),
        _kv("rejected_recent", snapshot.recent_with_prefix("rejected_")),
    ]
    values += [_kv(key, count) for key, count in sorted(snapshot.counters.items())]
    for stage in stats.stages():
        p50, p95 = stats.percentiles_ms(stage)
        values += [_kv(f"latency_{stage}_p50_ms", p50), _kv(f"latency_{stage}_p95_ms", p95)]
    level, message = assess(snapshot, facts, policy)
    status = DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id, values=values
    )
    return DiagnosticArray(header=header, status=[status])
