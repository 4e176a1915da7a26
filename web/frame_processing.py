"""Which frame processor the live relay uses. Placeholder until the anonymizer lands: obscure everything."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


class WholeFrameObscurer:
    """Fail-closed placeholder: every frame is reduced to 16x12 blocks, so nothing recognisable remains."""

    def new_track(self) -> Any:
        return None

    def process(self, frame_bgr: np.ndarray, state: Any, now: float) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        small = cv2.resize(frame_bgr, (16, 12), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST))


def default_processor() -> WholeFrameObscurer:
    return WholeFrameObscurer()
