"""When CenterFace runs: every frame while the picture moves and something new was found, less often while it is
calm or settled."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions
from privacy.vision.boxes import Box
from privacy.vision.options import StrongMode
from privacy.vision.strong_schedule import (
    MIN_POINTS,
    CalmLimits,
    FrameSignals,
    camera_still,
    faces_still,
    is_calm,
    largest_change,
    settled,
    strong_due,
    thumbnail,
)
from privacy.vision.tracking import Track
from tests.fakes import FixedBoxesDetector

CALM = FrameSignals(
    flow_points=60,
    camera_still=True,
    faces_still=True,
    content_still=True,
    unconfirmed_tracks=0,
    scene_cut=False,
    light_changed=False,
)
FACE = Box(250.0, 150.0, 120.0, 140.0)


def _pan(dx: float, dy: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.array([[scale, 0.0, dx], [0.0, scale, dy]])


def test_a_still_camera_is_calm_and_a_pan_zoom_or_roll_is_not() -> None:
    limits = CalmLimits()
    assert camera_still(_pan(0.0), 640, 480, limits)
    assert camera_still(_pan(2.5, -2.0), 640, 480, limits)
    assert not camera_still(_pan(6.0), 640, 480, limits)
    assert not camera_still(_pan(0.0, 0.0, 1.02), 640, 480, limits)
    angle = 0.02  # about a degree: the far corners move ~10 px
    roll = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0]])
    assert not camera_still(roll, 640, 480, limits)


def test_a_face_moving_a_tenth_of_its_width_is_not_still() -> None:
    limits = CalmLimits(face_shift=0.08)
    assert faces_still([], [], limits)
    assert faces_still([FACE], [Box(FACE.x + 5, FACE.y - 5, FACE.w, FACE.h)], limits)
    assert not faces_still([FACE], [Box(FACE.x + 12, FACE.y, FACE.w, FACE.h)], limits)
    assert not faces_still([FACE, FACE], [FACE, Box(FACE.x, FACE.y + 15, FACE.w, FACE.h)], limits)


@pytest.mark.parametrize(
    "change",
    [
        {"flow_points": MIN_POINTS - 1},
        {"camera_still": False},
        {"faces_still": False},
        {"content_still": False},
        {"unconfirmed_tracks": 1},
        {"scene_cut": True},
        {"light_changed": True},
    ],
)
def test_any_sign_of_change_breaks_the_calm(change: dict[str, object]) -> None:
    assert is_calm(CALM)
    assert not is_calm(replace(CALM, **change))  # type: ignore[arg-type]


def test_strong_pass_waits_only_across_an_unbroken_calm_run() -> None:
    # Every frame when not allowed to wait.
    assert all(strong_due(1, calm_run=50, every=1, every_calm=1) for _ in range(3))
    # Calm since the last pass: waits until every_calm frames have passed.
    assert not strong_due(1, calm_run=1, every=1, every_calm=4)
    assert not strong_due(3, calm_run=7, every=1, every_calm=4)
    assert strong_due(4, calm_run=9, every=1, every_calm=4)
    # One frame since the last pass that was not calm makes it due at once.
    assert strong_due(1, calm_run=0, every=1, every_calm=4)
    assert strong_due(3, calm_run=2, every=1, every_calm=4)
    # The fixed schedule is a floor: never more often than every `every` frames.
    assert not strong_due(1, calm_run=0, every=2, every_calm=4)
    assert strong_due(2, calm_run=0, every=2, every_calm=4)


def _strong_calls(frames: list[np.ndarray], every_calm: int, skip_settled: int = 0) -> int:
    options = replace(
        AnonymizerOptions(),
        strong_mode=StrongMode.INLINE,
        strong_every=1,
        strong_every_calm=every_calm,
        strong_skip_settled=skip_settled,
        head_every=0,
    )
    strong = FixedBoxesDetector([FACE])
    anonymizer = Anonymizer(options, FixedBoxesDetector([FACE]), strong_detector=strong)
    state = anonymizer.new_track()
    for i, frame in enumerate(frames):
        anonymizer.process(frame, state, i / 15)
    return len(strong.seen)


def test_on_a_still_picture_centerface_waits_and_on_a_pan_it_runs_every_frame(portrait: np.ndarray) -> None:
    still = [portrait] * 12
    panning = [np.roll(portrait, 12 * i, axis=1) for i in range(12)]
    # Still: the first two frames (new track, then its confirmation), then every 4th.
    assert _strong_calls(still, every_calm=4) == 4
    assert _strong_calls(still, every_calm=1) == 12
    assert _strong_calls(panning, every_calm=4) == 12


def test_a_settled_moving_picture_lets_centerface_skip_every_other_frame(portrait: np.ndarray) -> None:
    panning = [np.roll(portrait, 12 * i, axis=1) for i in range(12)]
    # The first three passes make the track settled (three hits); then every other frame.
    calls = _strong_calls(panning, every_calm=4, skip_settled=1)
    assert 6 <= calls <= 8
    assert _strong_calls(panning, every_calm=4, skip_settled=0) == 12


def test_settled_means_no_new_track_and_none_young() -> None:
    old = Track(FACE, last_seen=1.0, hits=5)
    assert settled([])
    assert settled([old])
    assert not settled([old, Track(FACE, last_seen=1.0, hits=1)]), "a pass that started a track"
    assert not settled([old, Track(FACE, last_seen=0.9, hits=2)]), "a young track"
    assert settled([Track(FACE, last_seen=1.0, hits=3)])


class _Appearing:
    """CenterFace stand-in: finds FACE on every frame, and a second face on the frames marked as showing it."""

    def __init__(self) -> None:
        self.frames: list[int] = []

    def detect(self, image: np.ndarray) -> list[Box]:
        index = int(image[0, 0, 0])
        self.frames.append(index)
        return [FACE, Box(40.0, 60.0, 90.0, 100.0)] if image[0, 1, 0] else [FACE]


def test_a_pass_that_finds_a_new_face_makes_the_next_frame_due(portrait: np.ndarray) -> None:
    """While settled, CenterFace skips frames on a moving picture; the frame after it found someone new, it runs
    again at once (and again until the newcomer's track is no longer young)."""
    options = replace(
        AnonymizerOptions(), strong_mode=StrongMode.INLINE, strong_every_calm=4, head_every=0, dark_boost=False
    )
    strong = _Appearing()
    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=strong)
    state = anonymizer.new_track()
    for i in range(20):
        frame = np.roll(portrait, 12 * i, axis=1)
        frame[0, 0] = i
        frame[0, 1] = 255 if i >= 10 else 0
        anonymizer.process(frame, state, i / 15)
    before = [f for f in strong.frames if 3 <= f < 10]
    assert len(before) <= 4, strong.frames  # settled: every other frame
    first_seen = min(f for f in strong.frames if f >= 10)
    after = [f for f in strong.frames if first_seen < f <= first_seen + 2]
    assert after == [first_seen + 1, first_seen + 2], strong.frames


def test_someone_walking_into_a_still_picture_is_a_content_change(portrait: np.ndarray) -> None:
    grey = portrait.mean(axis=2).astype(np.uint8)
    noisy = np.clip(grey.astype(int) + np.random.default_rng(1).integers(-6, 7, grey.shape), 0, 255).astype(np.uint8)
    walked_in = grey.copy()
    walked_in[200:400, 0:60] = 20  # a dark figure at the left edge, no followed box near it
    limit = CalmLimits().content_change
    assert largest_change(thumbnail(grey), thumbnail(noisy)) <= limit  # sensor noise averages out
    assert largest_change(thumbnail(grey), thumbnail(walked_in)) > limit


def test_a_face_only_centerface_sees_stays_masked_while_it_waits(portrait: np.ndarray) -> None:
    """On a calm picture the background pass runs less often, and the face it found stays masked between passes."""
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.BACKGROUND, strong_every_calm=3, head_every=0)
    strong = FixedBoxesDetector([FACE])
    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=strong)
    face = (slice(150, 290), slice(250, 370))
    try:
        state = anonymizer.new_track()
        for i in range(15):
            out = anonymizer.process(portrait, state, i / 15)
            anonymizer.wait_idle(state, timeout=5)
            assert np.abs(out[face].astype(int) - portrait[face].astype(int)).mean() > 5, f"frame {i}"
        assert len(strong.seen) < 10
        assert state.snapshot().obscured == 0
    finally:
        anonymizer.close()


def test_offline_files_run_centerface_on_every_frame() -> None:
    """No deadline offline: the calm schedule is for live calls only."""
    files = AnonymizerOptions.for_files()
    assert (files.strong_every, files.strong_every_calm) == (1, 1)
