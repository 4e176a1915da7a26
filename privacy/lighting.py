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


def dark_share(grey: np.ndarray) -> float:
    """The share of lit pixels (not black, see :data:`BLACK`) darker than :data:`DARK_LEVEL`."""
    lit = grey[grey >= BLACK]
    return float(np.count_nonzero(lit < DARK_LEVEL)) / max(1, lit.size)


def choose_gamma(grey: np.ndarray) -> float | None:
    """A gamma (< 1 brightens) that lifts the dark part of ``grey`` to mid-grey, or None if not dark.

    Pure black (letterbox bars, a black backdrop) is left out: it holds no face and would otherwise make a
    well-lit picture look dark and get washed out.
    """
    lit = grey[grey >= BLACK]
    if lit.size < grey.size * 0.1 or dark_share(grey) < DARK_SHARE:
        return None
    level = max(float(np.median(lit)), 12.0) / 255.0
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
