"""Brightening dark and backlit frames before detection.

Face detectors are trained on reasonably lit faces; in a dim room, or with a window behind the person, the
face sits in the bottom quarter of the intensity range and the detectors miss it while a viewer's screen (or
a simple levels adjustment) would still show it. The detectors therefore look at a brightened copy when a
large part of the frame is dark. Only the detector input changes; the frame that is sent is obscured from
the original.
"""

from __future__ import annotations

import cv2
import numpy as np

DARK_LEVEL = 70
"""A pixel with grey value below this counts as dark."""
DARK_SHARE = 0.5
"""A frame whose lit pixels are at least this often dark is brightened for detection."""
BLACK = 12
"""Pixels below this are taken as black (bars, backdrop), not as a dim scene."""


def _gamma_table(gamma: float) -> np.ndarray:
    levels = np.arange(256, dtype=np.float64) / 255.0
    return np.clip(np.power(levels, gamma) * 255.0 + 0.5, 0, 255).astype(np.uint8)


_TABLES = {round(g, 2): _gamma_table(g) for g in np.arange(0.3, 1.0, 0.05)}


def _lit_histogram(grey: np.ndarray) -> np.ndarray:
    """Pixel counts per grey level with the black levels (below :data:`BLACK`) zeroed.

    Every measure here is read from this histogram: one pass over the image instead of a masked copy, a
    count and a median of it (~0.05 ms at 320x240; the masked copy took 0.2 ms, 1 ms on dark frames).
    """
    if grey.dtype != np.uint8:
        grey = np.clip(grey, 0, 255).astype(np.uint8)
    # OpenCV's histogram is several times faster than np.bincount; float32 counts are exact below 2**24 pixels.
    counts = cv2.calcHist([np.ascontiguousarray(grey)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    counts[:BLACK] = 0
    return counts


def _dark_share(counts: np.ndarray) -> float:
    return float(counts[:DARK_LEVEL].sum()) / max(1, int(counts.sum()))


def _median(counts: np.ndarray) -> float:
    """The median of the levels counted in ``counts`` (as :func:`numpy.median` of those pixels gives it)."""
    total = int(counts.sum())
    cumulative = np.cumsum(counts)
    low = int(np.searchsorted(cumulative, (total - 1) // 2, side="right"))
    high = int(np.searchsorted(cumulative, total // 2, side="right"))
    return (low + high) / 2


def choose_gamma(grey: np.ndarray) -> float | None:
    """A gamma (< 1 brightens) that lifts the dark part of ``grey`` to mid-grey, or None if not dark.

    Pure black (letterbox bars, a black backdrop) is left out: it holds no face and would otherwise make a
    well-lit picture look dark and get washed out.
    """
    counts = _lit_histogram(grey)
    if int(counts.sum()) < grey.size * 0.1 or _dark_share(counts) < DARK_SHARE:
        return None
    level = max(_median(counts), 12.0) / 255.0
    # Map the lit pixels' median to about 0.4 of the range: level ** gamma = 0.4.
    gamma = float(np.log(0.4) / np.log(level))
    return float(np.clip(gamma, 0.3, 0.95))


def brighten(frame_bgr: np.ndarray, gamma: float) -> np.ndarray:
    """A copy of ``frame_bgr`` with the gamma curve applied (a table lookup, ~0.3 ms at 640x480)."""
    key = round(round(gamma / 0.05) * 0.05, 2)
    table = _TABLES.get(key)
    if table is None:
        table = _gamma_table(gamma)
    out: np.ndarray = cv2.LUT(frame_bgr, table)
    return out


def detection_input(frame_bgr: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """What the detectors should look at: the frame itself, or a brightened copy when it is dark.

    ``grey`` is any downscaled grey version of the frame (the optical-flow image is reused).
    """
    gamma = choose_gamma(grey)
    return frame_bgr if gamma is None else brighten(frame_bgr, gamma)
