"""The extra passes of a track's first frame: faces upside down, and faces under a strong colour cast.

Every face detector here learnt upright faces in natural colours. Some faces they still find upside down or
tinted, others not at all: a girl bending backwards, a face on a blue-tinted banner. A track's first frame
(and every frame of an offline file, upside down) also runs CenterFace on the frame turned 180 degrees and on
its brightness alone. The frames are labelled WIDER photos of the shared test media, and a portrait turned at
test time; nothing is stored.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.coverage import covered_share, mask_raster
from bench.ground_truth import load_stills
from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions
from privacy.vision.boxes import Box
from privacy.vision.centerface import CenterFaceConfig, CenterFaceDetector, detect_upside_down
from privacy.vision.detector_stack import FastDetectors, StrongDetector


def _turned(image: np.ndarray) -> tuple[np.ndarray, Box]:
    """``image`` upside down, and where its one face is then (found upright by CenterFace, then turned)."""
    h, w = image.shape[:2]
    (face,) = CenterFaceDetector(CenterFaceConfig(threshold=0.5)).detect_scaled(image, 640)
    return cv2.rotate(image, cv2.ROTATE_180), Box(w - face.x - face.w, h - face.y - face.h, face.w, face.h)


def _labelled(test_data: Path, name: str, near: tuple[float, float]) -> tuple[np.ndarray, Box]:
    """A WIDER photo and the labelled face whose centre is nearest to ``near``."""
    (still,) = [s for s in load_stills(test_data) if s.path.name == name]
    label = min((f.box for f in still.faces), key=lambda b: abs(b.cx - near[0]) + abs(b.cy - near[1]))
    image = cv2.imread(str(still.path), cv2.IMREAD_COLOR)
    assert image is not None
    return image, label


@pytest.mark.parametrize(
    ("name", "near"),
    [
        pytest.param("7_Cheering_Cheering_7_195.jpg", (290, 630), id="bending-backwards"),
        pytest.param("2_Demonstration_Political_Rally_2_752.jpg", (240, 126), id="blue-tinted-banner"),
    ],
)
def test_a_face_the_usual_passes_miss_is_masked_from_the_first_frame(
    live: Anonymizer, test_data: Path, name: str, near: tuple[float, float]
) -> None:
    image, face = _labelled(test_data, name, near)
    options = AnonymizerOptions()
    usual = FastDetectors(options).detect(image, 0, thorough=True) + StrongDetector(options).detect(image)
    assert not [b for b in usual if face.contains(b.cx, b.cy)], (
        "the usual passes must miss it (else this tests nothing)"
    )
    state = live.new_track()
    live.process(image, state, 0.0)
    assert covered_share(face, mask_raster(state.last_masks, image.shape[1], image.shape[0])) > 0.95


def test_the_turned_pass_maps_boxes_back_and_keeps_a_high_threshold(portrait: np.ndarray) -> None:
    turned, face = _turned(portrait)
    detector = CenterFaceDetector(CenterFaceConfig(threshold=0.12))
    found = detect_upside_down(detector, turned, 640, 0.5)
    assert len(found) == 1 and found[0].iou(face) > 0.8 and found[0].score >= 0.5
