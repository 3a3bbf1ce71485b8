"""A DiagnosticArray of the node's health from its RuntimeStats."""

from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from loco_ros.runtime_stats import RuntimeStats


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, float):
        value = "nan" if math.isnan(value) else f"{value:.2f}"
    return KeyValue(key=key, value=str(value))


def build_diagnostics(
    name: str, hardware_id: str, stats: RuntimeStats, facts: dict[str, object], header: Header
) -> DiagnosticArray:
    """One DiagnosticStatus: rates, counters (skipped, rejected by reason), latencies p50/p95."""
    values = [_kv(key, value) for key, value in facts.items()]
    values += [
        _kv("input_rate_hz", stats.rate_hz("frames_in")),
        _kv("output_rate_hz", stats.rate_hz("frames_out")),
    ]
    values += [_kv(key, count) for key, count in sorted(stats.counters.items())]
    for stage in stats.stages():
        p50, p95 = stats.percentiles_ms(stage)
        values += [_kv(f"latency_{stage}_p50_ms", p50), _kv(f"latency_{stage}_p95_ms", p95)]
    rejected = sum(v for k, v in stats.counters.items() if k.startswith("rejected_"))
    level = DiagnosticStatus.OK
    message = "ok"
    if not facts.get("camera_info_ok", True):
        level, message = DiagnosticStatus.WARN, "no usable intrinsics"
    elif rejected:
        level, message = DiagnosticStatus.WARN, f"{rejected} frame(s) rejected since start"
    status = DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id, values=values
    )
    return DiagnosticArray(header=header, status=[status])
