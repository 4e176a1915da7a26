"""The real detectors on real photographs (shared test data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from privacy.vision.blazeface import BlazeFaceConfig, BlazeFaceDetector, BlazeFaceModel
from privacy.vision.boxes import Box
from privacy.vision.centerface import CenterFaceDetector
from privacy.vision.tiling import TiledDetector


@pytest.fixture(scope="module")
def centerface() -> CenterFaceDetector:
    return CenterFaceDetector()


def _hits(found: list[Box], x_range: tuple[int, int]) -> list[Box]:
    return [b for b in found if x_range[0] <= b.cx <= x_range[1]]


@pytest.mark.parametrize("model", list(BlazeFaceModel))
def test_blazeface_finds_the_portrait(model: BlazeFaceModel, portrait: np.ndarray) -> None:
    detector = BlazeFaceDetector(BlazeFaceConfig(model, min_score=0.5))
    try:
        found = detector.detect(portrait)
    finally:
        detector.close()
    assert len(found) == 1
    (face,) = found
    assert 200 < face.cx < 440 and 60 < face.h < 400
    assert face.h > face.w  # widened from BlazeFace's square to the face's extent


def test_centerface_finds_both_people(two_people: np.ndarray, centerface: CenterFaceDetector) -> None:
    found = [b for b in centerface.detect(two_people) if b.score > 0.5]
    assert len(_hits(found, (0, 320))) == 1
    assert len(_hits(found, (320, 640))) == 1


def test_tiles_find_small_faces_that_the_whole_frame_misses(two_people: np.ndarray) -> None:
    # The two faces shrunk to about 25 px tall in the middle of a dark 640x480 frame.
    small = cv2.resize(two_people, (160, 120), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 40, dtype=np.uint8)
    frame[180:300, 240:400] = small
    short = BlazeFaceDetector(BlazeFaceConfig(BlazeFaceModel.SHORT_RANGE, min_score=0.4))
    try:
        whole = short.detect(frame)
        tiled = TiledDetector(short, cols=4, rows=3, overlap=0.3).detect(frame)
    finally:
        short.close()
    assert len(whole) < 2
    assert len(tiled) >= 2


def test_centerface_sees_a_face_cut_by_the_frame_edge(test_data: Path, centerface: CenterFaceDetector) -> None:
    image = cv2.imread(str(test_data / "faces" / "misc" / "obama_partial_face.jpg"))
    assert image is not None
    assert any(b.score > 0.3 for b in centerface.detect(image))
