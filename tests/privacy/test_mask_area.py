"""Masked area on real photographs (issue 14): doubtful boxes get tight masks, real faces keep generous ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from privacy.vision.anonymizer import Anonymizer, TrackState
from privacy.vision.boxes import Box
from privacy.vision.centerface import CenterFaceDetector
from tests.privacy.conftest import read_image


def _play(live: Anonymizer, image: np.ndarray, frames: int = 3) -> tuple[np.ndarray, TrackState]:
    """The last output of ``frames`` frames of the same picture (the first inline, then the background pass)."""
    state = live.new_track()
    out = image
    for i in range(frames):
        out = live.process(image, state, i / 15)
        live.wait_idle(state, timeout=10)
    return out, state


def _in_frame(masks: list[Box], width: int, height: int) -> list[Box]:
    return [c for c in (m.clipped(width, height) for m in masks) if c is not None]


def test_a_false_box_does_not_blur_a_band_the_height_of_the_frame(
    live: Anonymizer, checker: CenterFaceDetector, test_data: Path
) -> None:
    # Short-range BlazeFace reports a 591x680 box at 0.64 on a jacket here; no other detector sees a face there.
    image = read_image(test_data / "faces" / "misc" / "obama_and_biden.jpg")
    height, width = image.shape[:2]
    assert len(checker.detect(image)) >= 3, "the test photo must show its faces"
    out, state = _play(live, image)
    assert checker.detect(out) == []  # every real face is still masked
    for mask in _in_frame(state.last_masks, width, height):
        assert mask.h < 0.9 * height, f"a band {mask.w:.0f} x {mask.h:.0f} px"
    doubtful = [t for t in state.tracks if not t.confirmed]
    assert doubtful, "the false box is still held and masked (fail closed), only tightly"
    assert state.snapshot().obscured == 0


@pytest.mark.parametrize(("name", "edge"), [("obama_partial_face.jpg", "left"), ("obama_partial_face2.jpg", "right")])
def test_a_real_face_cut_by_the_edge_is_masked_to_that_edge(
    live: Anonymizer, checker: CenterFaceDetector, test_data: Path, name: str, edge: str
) -> None:
    image = read_image(test_data / "faces" / "misc" / name)
    height, width = image.shape[:2]
    (face,) = checker.detect(image)
    out, state = _play(live, image)
    assert checker.detect(out) == []
    assert all(t.confirmed for t in state.tracks if t.box.iou(face) > 0.3)
    reaching = [
        m
        for m in _in_frame(state.last_masks, width, height)
        if (m.x <= 0 if edge == "left" else m.x + m.w >= width) and m.y <= face.y and m.y + m.h >= face.y + face.h
    ]
    assert reaching, f"no mask reaches the {edge} edge across the whole face"
