"""What the privacy benchmark counts: covered faces, uncovered runs, faces a detector still finds, costs.

A face is *covered* when at least 0.8 of its labelled box lies under the applied masks (see
:mod:`bench.coverage`); a frame replaced by a fully obscured one covers every face. A covered face is *still
found* when the checker (CenterFace at threshold 0.2 on the output at full resolution, i.e. the baseline's own
detector) reports a box whose centre lies in the face's labelled box enlarged 1.2x and whose size is within
a factor of two of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from privacy.vision.boxes import Box


@dataclass(slots=True)
class Tally:
    """Counts for one pipeline."""

    faces32: int = 0
    covered32: int = 0
    faces64: int = 0
    covered64: int = 0
    checked: int = 0
    still_found: int = 0
    cpu_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    masked_share: list[float] = field(default_factory=list)
    longest_run: int = 0
    obscured_frames: int = 0
    frames: int = 0
    process_cpu_ms: float = 0.0
    """Process CPU time (every thread, the background detector's included) spent while the clips played."""
    processed: int = 0
    """Frames actually processed (not dropped as busy) while ``process_cpu_ms`` was counted."""
    call_cpu_ms: list[float] = field(default_factory=list)
    """CPU time of the calling thread per processed frame (the background detector's work excluded)."""

    def recall32(self) -> float:
        return self.covered32 / self.faces32 if self.faces32 else float("nan")

    def recall64(self) -> float:
        return self.covered64 / self.faces64 if self.faces64 else float("nan")

    def live_cpu_per_frame(self) -> float:
        return self.process_cpu_ms / self.processed if self.processed else float("nan")

    def found_share(self) -> float:
        return self.still_found / self.checked if self.checked else float("nan")


def still_found(face: Box, detections: Sequence[Box]) -> bool:
    """Whether one of ``detections`` is the labelled ``face`` (see the module doc)."""
    zone = face.scaled(1.2)
    for d in detections:
        ratio = d.h / face.h if face.h > 0 else 0.0
        if zone.contains(d.cx, d.cy) and 0.5 <= ratio <= 2.0:
            return True
    return False


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def median(values: Sequence[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")
