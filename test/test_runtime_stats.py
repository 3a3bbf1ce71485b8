"""RuntimeStats under concurrent writers, and the diagnostics level over a recent window."""

from __future__ import annotations

import threading
import time

import pytest

from loco_ros.runtime.stats import RuntimeStats


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_snapshot_is_safe_while_a_thread_adds_counters() -> None:
    """A writer adds new counter names as fast as it can while the reader snapshots: before
    the locked snapshot, iterating the live dict raised 'dictionary changed size'."""
    stats = RuntimeStats(window=4)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        while not stop.is_set():
            stats.count(f"rejected_reason_{written[0]}")  # a new key every time
            stats.record_latency(f"stage_{written[0] % 50}", 0.001)
            written[0] += 1
            if written[0] % 16 == 0:
                time.sleep(0)  # let the reader run between bursts

    thread = threading.Thread(target=writer)
    thread.start()
    snapshots, seen_growth = 0, set()
    try:
        # Until the writer has added keys during at least 20 of our snapshots (ordering, not
        # time: on a loaded machine this just takes more rounds).
        while len(seen_growth) < 20 and snapshots < 100_000:
            before = written[0]
            snapshot = stats.snapshot(10.0)
            diagnostics_like = sorted(snapshot.counters.items())
            assert sum(v for _, v in diagnostics_like) >= snapshot.recent_with_prefix("rej")
            for stage in stats.stages():
                stats.percentiles_ms(stage)
            if written[0] > before:
                seen_growth.add(snapshots)
            snapshots += 1
    finally:
        stop.set()
        thread.join()
    assert len(seen_growth) >= 20
    final = stats.snapshot(10.0)
    assert sum(final.counters.values()) == written[0] == len(final.counters)


def test_recent_counts_forget_old_events_but_counters_do_not() -> None:
    clock = FakeClock()
    stats = RuntimeStats(clock=clock)
    stats.count("rejected_encoding")
    stats.count("people_out", 7)
    clock.now += 5.0
    stats.count("rejected_encoding")
    snap = stats.snapshot(window_s=10.0)
    assert snap.recent == {"rejected_encoding": 2, "people_out": 7}
    clock.now += 6.0
    snap = stats.snapshot(window_s=10.0)
    assert snap.counters == {"rejected_encoding": 2, "people_out": 7}
    assert snap.recent == {"rejected_encoding": 1, "people_out": 0}
    assert snap.ages_s["rejected_encoding"] == pytest.approx(6.0)
    assert stats.recent("people_out", 20.0) == 7
    assert stats.age_s("never") is None


@pytest.mark.ros
def test_diagnostics_level_uses_the_recent_window() -> None:
    from diagnostic_msgs.msg import DiagnosticStatus
    from std_msgs.msg import Header

    from loco_ros.ros.diagnostics import HealthPolicy, build_diagnostics

    clock = FakeClock()
    stats = RuntimeStats(clock=clock)
    policy = HealthPolicy(window_s=10.0, stale_after_s=5.0)
    facts = {"lifecycle_state": "active", "camera_info_ok": True}

    def status():
        array = build_diagnostics("loco_node", "loco_ros", stats, facts, Header(), policy)
        s = array.status[0]
        return s.level, s.message, {kv.key: kv.value for kv in s.values}

    stats.mark("activated")
    for _ in range(3):
        stats.count("camera_info_in")
        stats.count("frames_in")
        clock.now += 1.0
    assert status()[:2] == (DiagnosticStatus.OK, "ok")
    stats.count("rejected_encoding")
    level, message, values = status()
    assert level == DiagnosticStatus.WARN and "1 frame(s) rejected in the last 10 s" in message
    assert values["rejected_encoding"] == "1" and values["rejected_recent"] == "1"
    for _ in range(11):  # frames and CameraInfo keep coming, no more rejections
        stats.count("camera_info_in")
        stats.count("frames_in")
        clock.now += 1.0
    level, message, values = status()
    assert (level, message) == (DiagnosticStatus.OK, "ok")
    assert values["rejected_encoding"] == "1" and values["rejected_recent"] == "0"
    for _ in range(6):  # images without CameraInfo
        stats.count("frames_in")
        clock.now += 1.0
    level, message, _ = status()
    assert level == DiagnosticStatus.WARN and "CameraInfo stale" in message
    clock.now += 6.0  # nothing at all
    level, message, values = status()
    assert level == DiagnosticStatus.WARN and "no image for 7.0 s" in message
    assert values["image_age_s"] == "7.00"
    facts["lifecycle_state"] = "inactive"  # an inactive node expects no images
    assert status()[:2] == (DiagnosticStatus.OK, "ok")
    facts["lifecycle_state"] = "active"
    stats.count("errors_internal")
    stats.count("peaks_dropped", 12)
    level, message, _ = status()
    assert level == DiagnosticStatus.ERROR
    assert "1 frame(s) failed" in message and "12 peak(s) dropped" in message


@pytest.mark.ros
def test_no_image_since_activation_is_stale() -> None:
    from diagnostic_msgs.msg import DiagnosticStatus
    from std_msgs.msg import Header

    from loco_ros.ros.diagnostics import HealthPolicy, build_diagnostics

    clock = FakeClock()
    stats = RuntimeStats(clock=clock)
    stats.count("frames_in")  # before a deactivate / activate cycle
    clock.now += 100.0
    stats.mark("activated")
    clock.now += 3.0
    facts = {"lifecycle_state": "active", "camera_info_ok": True}
    status = build_diagnostics("n", "h", stats, facts, Header(), HealthPolicy(10.0, 5.0)).status[0]
    assert status.level == DiagnosticStatus.OK  # 3 s since activation, not 103 s
    clock.now += 3.0
    status = build_diagnostics("n", "h", stats, facts, Header(), HealthPolicy(10.0, 5.0)).status[0]
    assert status.level == DiagnosticStatus.WARN and "no image for 6.0 s" in status.message
    off = build_diagnostics("n", "h", stats, facts, Header(), HealthPolicy(10.0, 0.0)).status[0]
    assert off.level == DiagnosticStatus.OK
