"""Per-track frame counters, exported by the server as metrics.

Every frame that leaves the server is one of: anonymized (faces masked), obscured (fail closed: detection
raised, ran late, went stale or had not run yet), paused (the neutral card) or dropped (the caller skipped it
while the previous frame was still being processed). Counting them is how an operator sees that fail-closed
paths are rare in practice and never silent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """The counters at one moment."""

    anonymized: int = 0
    """Frames sent with every tracked face obscured."""
    obscured: int = 0
    """Frames replaced by a fully obscured frame (fail closed)."""
    paused: int = 0
    """Frames replaced by the pause card."""
    dropped: int = 0
    """Frames the caller did not process because the previous one was still running."""
    detector_errors: int = 0
    """Detector calls that raised (each also produced an obscured frame)."""
    late: int = 0
    """Frames whose processing exceeded the deadline (each also produced an obscured frame)."""


class FrameCounters:
    """Thread-safe counters; the worker thread increments, the metrics endpoint reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = dict.fromkeys(CounterSnapshot.__dataclass_fields__, 0)

    def add(self, name: str, amount: int = 1) -> None:
        """Increment counter ``name`` (one of :class:`CounterSnapshot`'s fields)."""
        if name not in self._values:
            raise KeyError(name)
        with self._lock:
            self._values[name] += amount

    def snapshot(self) -> CounterSnapshot:
        """A consistent copy of all counters."""
        with self._lock:
            return CounterSnapshot(**self._values)
