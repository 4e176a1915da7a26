"""Face boxes and the detector seam that every part of the privacy core shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in image pixels; ``score`` is the detector's confidence (1.0 when unknown)."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def scaled(self, factor: float) -> Box:
        """The same centre, sides multiplied by ``factor`` (masks are enlarged to cover hair, ears, chin)."""
        w, h = self.w * factor, self.h * factor
        return Box(self.cx - w / 2, self.cy - h / 2, w, h, self.score)

    def clipped(self, width: int, height: int) -> Box | None:
        """The part inside a ``width`` x ``height`` image, or None when nothing of it is inside."""
        x0, y0 = max(0.0, self.x), max(0.0, self.y)
        x1, y1 = min(float(width), self.x + self.w), min(float(height), self.y + self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0, self.score)

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px <= self.x + self.w and self.y <= py <= self.y + self.h

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


class FaceDetector(Protocol):
    """Finds faces in a BGR uint8 image (H x W x 3). Implementations may be slow; callers own the deadline."""

    def detect(self, image: np.ndarray) -> list[Box]: ...
