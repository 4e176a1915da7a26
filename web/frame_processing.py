"""Which frame processor the live relay uses: the privacy core's anonymizer, or everything obscured."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions


class WholeFrameObscurer:
    """Obscures every frame entirely in a 16x12 grid of flat cells. Not selectable in production (the anonymizer
    is); the relay bench (``--processor obscure-all``) and the browser tests use it to measure the relay without
    face detection and to tell processed frames from the camera's by their grid."""

    def new_track(self) -> Any:
        return None

    def process(self, frame_bgr: np.ndarray, state: Any, now: float) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        small = cv2.resize(frame_bgr, (16, 12), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST))


def default_processor() -> Anonymizer:
    """Face anonymization with the live options (detection off the event loop, expensive detector in the
    background); model files come from the installed registry packages, nothing is downloaded."""
    return Anonymizer(AnonymizerOptions())
