"""Counters, rates and latency percentiles of a running pipeline (thread-safe, bounded)."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

import numpy as np


class RuntimeStats:
    """Rolling windows of stage latencies (s) and event times, plus monotonic counters."""

    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self._latency: dict[str, deque[float]] = {}
        self._events: dict[str, deque[float]] = {}
        self._window = window
        self.counters: Counter[str] = Counter()

    def count(self, name: str, amount: int = 1) -> None:
        """Add to counter ``name`` and record the event time for its rate."""
        now = time.monotonic()
        with self._lock:
            self.counters[name] += amount
            self._events.setdefault(name, deque(maxlen=self._window)).append(now)

    def record_latency(self, stage: str, seconds: float) -> None:
        """Record one duration (s) of ``stage``."""
        with self._lock:
            self._latency.setdefault(stage, deque(maxlen=self._window)).append(seconds)

    def rate_hz(self, name: str, horizon_s: float = 5.0) -> float:
        """Events of ``name`` per second over the last ``horizon_s`` seconds."""
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._events.get(name, ()) if now - t <= horizon_s]
        return len(times) / horizon_s

    def percentiles_ms(self, stage: str) -> tuple[float, float]:
        """(p50, p95) of ``stage`` in milliseconds; NaN when nothing was recorded."""
        with self._lock:
            values = list(self._latency.get(stage, ()))
        if not values:
            return float("nan"), float("nan")
        p50, p95 = np.percentile(np.asarray(values) * 1e3, [50, 95])
        return float(p50), float(p95)

    def stages(self) -> list[str]:
        """Names of the stages with recorded latencies."""
        with self._lock:
            return sorted(self._latency)
