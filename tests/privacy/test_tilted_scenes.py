"""Scenes filmed askew (a tablet held at an angle): CenterFace measures the tilt and every other pass looks upright.

Face detectors learnt upright faces; at 30 degrees CenterFace finds fewer faces, with lower scores. The frames are
a portrait and a labelled WIDER group photo of the shared test media, turned at test time; nothing is stored.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.coverage import is_covered, mask_raster
from bench.ground_truth import load_stills
from privacy.vision.anonymizer import Anonymizer
from privacy.vision.boxes import Box
from privacy.vision.centerface import CenterFaceConfig, CenterFaceDetector, detect_upright
from privacy.vision.motion import camera_rotation_deg
from tests.privacy.conftest import read_image


def _turn(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned about its centre by ``degrees`` (OpenCV's sense: counter-clockwise on screen), same size."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h)), matrix


@pytest.fixture(scope="module")
def centerface() -> CenterFaceDetector:
    return CenterFaceDetector(CenterFaceConfig())


@pytest.mark.parametrize("degrees", [-30.0, 30.0])
def test_the_tilt_is_measured_from_the_eyes_and_the_upright_pass_finds_the_face_where_it_is(
    portrait: np.ndarray, centerface: CenterFaceDetector, degrees: float
) -> None:
    (upright_face,) = centerface.detect_scaled(portrait, 320)
    turned, matrix = _turn(portrait, degrees)
    _boxes, tilt = centerface.detect_with_tilt(turned, 320)
    # Turning the picture counter-clockwise by d turns its eye lines by -d (image rows grow downwards).
    assert tilt is not None and tilt == pytest.approx(-degrees, abs=10)
    found, measured = detect_upright(centerface, turned, 320, tilt)
    cx, cy = matrix @ np.array([upright_face.cx, upright_face.cy, 1.0])
    assert any(b.contains(cx, cy) for b in found), "the box is turned back onto the face"
    assert measured is not None and measured == pytest.approx(-degrees, abs=6)  # measured again, closer


def test_a_camera_that_turns_turns_the_tilt_with_it() -> None:
    matrix = cv2.getRotationMatrix2D((320, 240), -5.0, 1.0)  # OpenCV's -5: clockwise on screen
    assert camera_rotation_deg(matrix) == pytest.approx(5.0)


def _tilted_group(test_data: Path, name: str, degrees: float) -> tuple[np.ndarray, list[Box]]:
    (still,) = [s for s in load_stills(test_data) if s.path.name == name]
    image = read_image(still.path)
    scale = 640 / image.shape[1]
    image = cv2.resize(image, (640, round(image.shape[0] * scale)))[:480]
    turned, matrix = _turn(image, degrees)
    faces = []
    for face in still.faces:
        cx, cy = matrix @ np.array([face.box.cx * scale, face.box.cy * scale, 1.0])
        side = face.box.h * scale
        if not face.invalid and side >= 32:
            faces.append(Box(cx - side / 2, cy - side / 2, side, side))
    return turned, faces


def test_a_group_filmed_askew_is_covered_once_the_tilt_is_known(test_data: Path, live: Anonymizer) -> None:
    """Santas at a parade, the camera held at 30 degrees: one face is found only by the pass that looks upright."""
    frame, faces = _tilted_group(test_data, "0_Parade_Parade_0_519.jpg", -30.0)
    assert len(faces) >= 4
    state = live.new_track()
    for i in range(5):
        live.process(frame, state, i / 15)
        live.wait_idle(state, timeout=10)
    assert state.tilt is not None and abs(state.tilt) >= 15
    raster = mask_raster(state.last_masks, frame.shape[1], frame.shape[0])
    assert all(is_covered(face, raster) for face in faces)
