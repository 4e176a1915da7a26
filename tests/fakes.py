"""Hand-written fakes for the seams of the privacy core (fakes over mocks: they behave, they do not record).

The face detectors stand in for the real model stack where a test is about what the anonymizer does with
detections, errors and time, not about what the models find; :class:`WholeFrameObscurer` stands in for the whole
anonymizer (the ``FrameProcessor`` seam of ``privacy.vision.privacy_track``) where a test or bench is about the relay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from privacy.vision.boxes import Box


class RaisingDetector:
    """A detector that always fails, like a model whose native code raised."""

    def __init__(self, message: str = "detector crashed") -> None:
        self.message = message
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Box]:
        self.calls += 1
        raise RuntimeError(self.message)


class SleepingDetector:
    """A detector that takes ``seconds`` per call (past any deadline) and then finds ``boxes``."""

    def __init__(self, seconds: float, boxes: Sequence[Box] = ()) -> None:
        self.seconds = seconds
        self.boxes = list(boxes)
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Box]:
        self.calls += 1
        time.sleep(self.seconds)
        return list(self.boxes)


class FixedBoxesDetector:
    """A detector that finds the same boxes in every image; ``seen`` keeps the shapes it was shown."""

    def __init__(self, boxes: Sequence[Box] = ()) -> None:
        self.boxes = list(boxes)
        self.seen: list[tuple[int, ...]] = []
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[Box]:
        with self._lock:
            self.seen.append(image.shape)
        return list(self.boxes)


class ScriptedDetector:
    """A detector that returns ``script[i]`` on its i-th call (and nothing after the script ends)."""

    def __init__(self, script: Sequence[Sequence[Box]]) -> None:
        self.script = [list(s) for s in script]
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Box]:
        found = self.script[self.calls] if self.calls < len(self.script) else []
        self.calls += 1
        return list(found)


class FakeClock:
    """A monotonic clock that moves only when told (or by ``step`` on every reading)."""

    def __init__(self, start: float = 0.0, step: float = 0.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WholeFrameObscurer:
    """A ``FrameProcessor`` that obscures every frame entirely in a 16x12 grid of flat cells.

    Never part of the server (production always runs the anonymizer): the browser tests use it to tell processed
    frames from the camera's by their grid, and the relay bench (``--processor obscure-all``) to measure the relay
    without face detection. It lives here, beside the other fakes, because ``bench/`` already imports its servers
    and clients from ``tests/``.
    """

    def new_track(self) -> Any:
        return None

    def process(self, frame_bgr: np.ndarray, state: Any, now: float) -> np.ndarray:
        h, w = frame_bgr.shape[:2]
        small = cv2.resize(frame_bgr, (16, 12), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST))
