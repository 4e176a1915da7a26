"""Obscuring is strong enough that a detector no longer finds the face; fail-closed and pause frames are fast."""

from __future__ import annotations

import time

import numpy as np
import pytest

from privacy.vision.anonymizer import obscure_whole_frame, pause_card
from privacy.vision.boxes import Box
from privacy.vision.centerface import CenterFaceConfig, CenterFaceDetector
from privacy.vision.lighting import brighten, choose_gamma, detection_input
from privacy.vision.obscure import ObscureMethod, obscure_boxes


@pytest.fixture(scope="module")
def strong() -> CenterFaceDetector:
    """The strongest detector here, at a low threshold, looking at full resolution."""
    return CenterFaceDetector(CenterFaceConfig(threshold=0.2, max_side=640))


def _face(detector: CenterFaceDetector, image: np.ndarray) -> Box:
    found = detector.detect(image)
    assert found, "the unobscured face must be found"
    return max(found, key=lambda b: b.score)


@pytest.mark.parametrize("method", list(ObscureMethod))
def test_an_obscured_face_is_no_longer_found(
    method: ObscureMethod, portrait: np.ndarray, strong: CenterFaceDetector
) -> None:
    face = _face(strong, portrait)
    out = obscure_boxes(portrait, [face.scaled(1.6)], method)
    assert not np.shares_memory(out, portrait)
    assert [b for b in strong.detect(out) if b.iou(face) > 0.2] == []


def test_obscure_boxes_ignores_boxes_outside_the_frame(portrait: np.ndarray) -> None:
    out = obscure_boxes(portrait, [Box(-500, -500, 100, 100), Box(630, 470, 50, 50)])
    assert np.array_equal(out[:460, :620], portrait[:460, :620])


def test_whole_frame_obscuring_is_fast_and_leaves_nothing(portrait: np.ndarray, strong: CenterFaceDetector) -> None:
    obscure_whole_frame(portrait)
    started = time.perf_counter()
    for _ in range(20):
        out = obscure_whole_frame(portrait)
    assert (time.perf_counter() - started) / 20 < 0.002
    assert out.shape == portrait.shape and out is not portrait
    assert strong.detect(out) == []
    # Nothing but a few soft colour cells: neighbouring pixels barely differ anywhere.
    assert np.abs(np.diff(out.astype(int), axis=1)).max() < 16


def test_pause_card_is_neutral_and_fresh() -> None:
    first = pause_card(640, 480)
    second = pause_card(640, 480)
    assert first.shape == (480, 640, 3) and first.dtype == np.uint8
    assert first is not second and np.array_equal(first, second)
    first[:] = 0  # a caller's change does not leak into the cache
    assert pause_card(640, 480).any()
    assert not np.array_equal(pause_card(640, 480, "Pause"), pause_card(640, 480, ""))
    with pytest.raises(ValueError):
        pause_card(0, 480)


def test_dark_frames_are_brightened_for_detection(portrait: np.ndarray) -> None:
    dark = (portrait * 0.2).astype(np.uint8)
    grey = dark.mean(axis=2).astype(np.uint8)
    gamma = choose_gamma(grey)
    assert gamma is not None and gamma < 0.7
    assert detection_input(dark, grey).mean() > 2 * dark.mean()
    assert choose_gamma(np.full((48, 64), 128, dtype=np.uint8)) is None
    # Black bars and a dark suit do not make a lit portrait "dark": at most a mild lift.
    mild = choose_gamma(portrait.mean(axis=2).astype(np.uint8))
    assert mild is None or mild > 0.6
    assert brighten(portrait, 0.5).mean() > portrait.mean()


def test_a_dark_face_is_found_after_brightening(portrait: np.ndarray, strong: CenterFaceDetector) -> None:
    dark = (portrait * 0.15).astype(np.uint8)
    grey = dark.mean(axis=2).astype(np.uint8)
    face = _face(strong, portrait)
    found = strong.detect(detection_input(dark, grey))
    assert any(b.iou(face) > 0.4 for b in found)


def _reference_gamma(grey: np.ndarray) -> float | None:
    """choose_gamma as first written: a masked copy of the lit pixels, a count and a median of it."""
    lit = grey[grey >= 12]
    if lit.size < grey.size * 0.1 or np.count_nonzero(lit < 70) / max(1, lit.size) < 0.5:
        return None
    level = max(float(np.median(lit)), 12.0) / 255.0
    return float(np.clip(np.log(0.4) / np.log(level), 0.3, 0.95))


def test_the_histogram_gamma_is_the_masked_median_gamma() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        grey = rng.integers(0, int(rng.integers(1, 256)), (h, w)).astype(np.uint8)
        assert choose_gamma(grey) == _reference_gamma(grey)
