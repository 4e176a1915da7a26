"""When a face counts as anonymized: how much of its ground-truth box the masks cover.

A face is *covered* when at least ``COVERED_SHARE`` (0.8) of its labelled box lies under the union of the
mask rectangles actually applied. Counting by area rather than by the box centre (as DESIGN.md's first
measurements did) penalises masks that hide only half a face; 0.8 rather than 1.0 tolerates the looseness of
hand-drawn boxes (WIDER boxes include some hair and background at the edges).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from privacy.vision.boxes import Box

COVERED_SHARE = 0.8


def mask_raster(masks: Sequence[Box], width: int, height: int) -> np.ndarray:
    """A boolean ``height`` x ``width`` raster of the union of ``masks``."""
    raster = np.zeros((height, width), dtype=bool)
    for box in masks:
        clipped = box.clipped(width, height)
        if clipped is None:
            continue
        x0, y0 = int(np.floor(clipped.x)), int(np.floor(clipped.y))
        x1, y1 = int(np.ceil(clipped.x + clipped.w)), int(np.ceil(clipped.y + clipped.h))
        raster[y0:y1, x0:x1] = True
    return raster


def covered_share(face: Box, raster: np.ndarray) -> float:
    """The share of ``face``'s in-frame area that ``raster`` covers (1.0 for a face wholly outside)."""
    h, w = raster.shape
    clipped = face.clipped(w, h)
    if clipped is None:
        return 1.0
    x0, y0 = round(clipped.x), round(clipped.y)
    x1, y1 = max(x0 + 1, round(clipped.x + clipped.w)), max(y0 + 1, round(clipped.y + clipped.h))
    region = raster[y0:y1, x0:x1]
    return float(region.mean()) if region.size else 1.0


def is_covered(face: Box, raster: np.ndarray, share: float = COVERED_SHARE) -> bool:
    """Whether at least ``share`` of ``face`` is masked."""
    return covered_share(face, raster) >= share
