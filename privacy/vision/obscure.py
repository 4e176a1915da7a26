"""Making faces unrecognisable: pixelation, blur or a solid fill, scaled to the face's size.

A fixed blur kernel that hides a 40 px face leaves a 300 px face recognisable, so the strength is set per
mask: pixelation keeps ``blocks`` cells across the mask whatever its size, and blur uses a kernel that is a
fixed share of the mask's side. Pixelation alone leaves a face-like layout of dark eye and mouth cells that a
strong detector can still pick up at a low threshold; smoothing the cells afterwards removes the block edges
that carry it. Everything works on a copy: the input frame is never written to.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import cv2
import numpy as np

from privacy.vision.boxes import Box


class ObscureMethod(Enum):
    """How a face region is made unrecognisable."""

    PIXELATE = "pixelate"
    BLUR = "blur"
    SOLID = "solid"


def _region(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    clipped = box.clipped(width, height)
    if clipped is None:
        return None
    x0, y0 = int(np.floor(clipped.x)), int(np.floor(clipped.y))
    x1, y1 = int(np.ceil(clipped.x + clipped.w)), int(np.ceil(clipped.y + clipped.h))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return x0, y0, x1, y1


def _pixelate(region: np.ndarray, cells_x: int, cells_y: int) -> np.ndarray:
    h, w = region.shape[:2]
    small = cv2.resize(region, (max(1, cells_x), max(1, cells_y)), interpolation=cv2.INTER_AREA)
    # INTER_LINEAR on the upscale smooths the mosaic: no hard cell edges for a detector to latch onto.
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _blur(region: np.ndarray, share: float) -> np.ndarray:
    h, w = region.shape[:2]
    k = max(3, int(max(h, w) * share) | 1)
    # Two box passes approximate a Gaussian at a fraction of the cost (DESIGN.md: k51 Gaussian 4 ms).
    once = cv2.blur(region, (k, k), borderType=cv2.BORDER_REPLICATE)
    return cv2.blur(once, (k, k), borderType=cv2.BORDER_REPLICATE)


def obscure_region(region: np.ndarray, method: ObscureMethod, blocks: int, blur_share: float) -> np.ndarray:
    """An unrecognisable version of ``region`` (same shape), with strength relative to the region's size."""
    h, w = region.shape[:2]
    if method is ObscureMethod.SOLID:
        mean = region.reshape(-1, region.shape[2]).mean(axis=0)
        return np.broadcast_to(mean.astype(region.dtype), region.shape).copy()
    if method is ObscureMethod.BLUR:
        return _blur(region, blur_share)
    side = max(h, w)
    cells = max(1, blocks)
    return _pixelate(region, max(1, round(cells * w / side)), max(1, round(cells * h / side)))


def obscure_boxes(
    frame: np.ndarray,
    masks: Sequence[Box],
    method: ObscureMethod = ObscureMethod.PIXELATE,
    blocks: int = 5,
    blur_share: float = 0.35,
) -> np.ndarray:
    """A copy of ``frame`` with every mask rectangle obscured.

    Masks are processed largest first and each reads from the already obscured copy, so overlapping masks
    never restore detail that another one removed.
    """
    out = frame.copy()
    height, width = frame.shape[:2]
    for box in sorted(masks, key=lambda b: b.w * b.h, reverse=True):
        rect = _region(box, width, height)
        if rect is None:
            continue
        x0, y0, x1, y1 = rect
        out[y0:y1, x0:x1] = obscure_region(out[y0:y1, x0:x1], method, blocks, blur_share)
    return out


def obscure_whole_frame(frame_bgr: np.ndarray) -> np.ndarray:
    """The whole frame reduced to a few soft colour cells: nothing recognisable is left (< 1 ms at 640x480).

    Used to fail closed: when detection raised, ran late or has not run yet for a track. A handful of cells
    keeps the general colour so the picture does not flash, but no face, text or shape survives.
    """
    h, w = frame_bgr.shape[:2]
    if h == 0 or w == 0:
        return frame_bgr.copy()
    cells_x = max(1, min(8, w // 40))
    cells_y = max(1, min(6, h // 40))
    small = cv2.resize(frame_bgr, (cells_x, cells_y), interpolation=cv2.INTER_AREA)
    out: np.ndarray = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out
