"""The anonymizer's contract with fake detectors: new arrays, masks where faces are, and fail closed."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

import numpy as np
import pytest

from privacy.vision.anonymizer import (
    BACKGROUND_NICENESS,
    Anonymizer,
    AnonymizerOptions,
    obscure_whole_frame,
    pause_card,
)
from privacy.vision.boxes import Box
from privacy.vision.options import StrongMode
from tests.fakes import FakeClock, FixedBoxesDetector, RaisingDetector, ScriptedDetector, SleepingDetector

FACE = Box(250.0, 150.0, 120.0, 140.0)
OFF = replace(AnonymizerOptions(), strong_mode=StrongMode.OFF)


def test_returns_a_new_array_and_never_touches_the_input(portrait: np.ndarray) -> None:
    anonymizer = Anonymizer(OFF, FixedBoxesDetector([FACE]))
    state = anonymizer.new_track()
    before = portrait.copy()
    out = anonymizer.process(portrait, state, 0.0)
    assert out is not portrait
    assert not np.shares_memory(out, portrait)
    assert np.array_equal(portrait, before)
    assert out.shape == portrait.shape and out.dtype == np.uint8


def test_masks_the_detected_face_and_leaves_the_rest(portrait: np.ndarray) -> None:
    anonymizer = Anonymizer(OFF, FixedBoxesDetector([FACE]))
    state = anonymizer.new_track()
    out = anonymizer.process(portrait, state, 0.0)
    face = (slice(150, 290), slice(250, 370))
    assert np.abs(out[face].astype(int) - portrait[face].astype(int)).mean() > 5
    assert np.array_equal(out[:, :100], portrait[:, :100])
    snap = state.snapshot()
    assert snap.anonymized == 1 and snap.obscured == 0
    assert state.detection_has_run


def test_a_raising_detector_gives_a_fully_obscured_frame_and_is_counted(portrait: np.ndarray) -> None:
    detector = RaisingDetector()
    anonymizer = Anonymizer(OFF, detector)
    state = anonymizer.new_track()
    out = anonymizer.process(portrait, state, 0.0)
    assert np.array_equal(out, obscure_whole_frame(portrait))
    snap = state.snapshot()
    assert (snap.obscured, snap.detector_errors, snap.anonymized) == (1, 1, 0)
    assert detector.calls == 1


def test_a_detector_sleeping_past_the_deadline_gives_an_obscured_frame(portrait: np.ndarray) -> None:
    options = replace(OFF, deadline_s=0.02)
    anonymizer = Anonymizer(options, SleepingDetector(0.06, [FACE]))
    state = anonymizer.new_track()
    out = anonymizer.process(portrait, state, 0.0)
    assert np.array_equal(out, obscure_whole_frame(portrait))
    snap = state.snapshot()
    assert (snap.obscured, snap.late, snap.anonymized) == (1, 1, 0)


def test_the_deadline_uses_the_injected_clock(portrait: np.ndarray) -> None:
    clock = FakeClock(step=0.5)  # every reading is half a second later
    anonymizer = Anonymizer(replace(OFF, deadline_s=0.1), FixedBoxesDetector([FACE]), clock=clock)
    state = anonymizer.new_track()
    anonymizer.process(portrait, state, 0.0)
    assert state.snapshot().late == 1


def test_a_paused_track_gets_the_card_without_detection(portrait: np.ndarray) -> None:
    detector = FixedBoxesDetector([FACE])
    anonymizer = Anonymizer(OFF, detector)
    state = anonymizer.new_track()
    state.paused = True
    out = anonymizer.process(portrait, state, 0.0)
    assert np.array_equal(out, pause_card(640, 480))
    assert detector.seen == []
    assert state.snapshot().paused == 1


def test_a_held_box_keeps_the_face_masked_after_the_detector_misses(portrait: np.ndarray) -> None:
    detector = ScriptedDetector([[FACE]])  # finds the face once, then never again
    anonymizer = Anonymizer(OFF, detector)
    state = anonymizer.new_track()
    face = (slice(150, 290), slice(250, 370))
    for i in range(5):
        out = anonymizer.process(portrait, state, i / 15)
        assert np.abs(out[face].astype(int) - portrait[face].astype(int)).mean() > 5, f"frame {i}"
    # Long after the hold time the box is gone.
    out = anonymizer.process(portrait, state, 10.0)
    assert np.array_equal(out[face], portrait[face])


def test_inline_strong_detector_failure_fails_closed(portrait: np.ndarray) -> None:
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.INLINE)
    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=RaisingDetector())
    state = anonymizer.new_track()
    out = anonymizer.process(portrait, state, 0.0)
    assert np.array_equal(out, obscure_whole_frame(portrait))
    assert state.snapshot().detector_errors == 1


def test_background_strong_boxes_reach_later_frames(portrait: np.ndarray) -> None:
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.BACKGROUND, strong_every=1, strong_every_calm=1)
    strong = ScriptedDetector([[], [FACE]])  # warm-up (inline) finds nothing, the background pass finds it
    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=strong)
    try:
        state = anonymizer.new_track()
        anonymizer.process(portrait, state, 0.0)  # warm-up: inline
        anonymizer.process(portrait, state, 1 / 15)  # submits the background pass
        anonymizer.wait_idle(state, timeout=5)
        out = anonymizer.process(portrait, state, 2 / 15)  # merges its result
        face = (slice(150, 290), slice(250, 370))
        assert np.abs(out[face].astype(int) - portrait[face].astype(int)).mean() > 5
        assert state.snapshot().obscured == 0
    finally:
        anonymizer.close()


def test_background_strong_failure_fails_closed_on_the_next_frame(portrait: np.ndarray) -> None:
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.BACKGROUND, strong_every=1, strong_every_calm=1)

    class FailsAfterWarmUp(ScriptedDetector):
        def detect(self, image: np.ndarray) -> list[Box]:
            if self.calls >= 1:
                self.calls += 1
                raise RuntimeError("worker crashed")
            return super().detect(image)

    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=FailsAfterWarmUp([[]]))
    try:
        state = anonymizer.new_track()
        anonymizer.process(portrait, state, 0.0)
        anonymizer.process(portrait, state, 1 / 15)
        anonymizer.wait_idle(state, timeout=5)
        out = anonymizer.process(portrait, state, 2 / 15)
        assert np.array_equal(out, obscure_whole_frame(portrait))
        assert state.snapshot().detector_errors == 1
    finally:
        anonymizer.close()


def test_stale_strong_results_fail_closed(portrait: np.ndarray) -> None:
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.BACKGROUND, strong_every=1, strong_timeout_s=0.5)
    gate = threading.Event()

    class Stuck(ScriptedDetector):
        def detect(self, image: np.ndarray) -> list[Box]:
            if self.calls >= 1:
                gate.wait(5)
            return super().detect(image)

    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=Stuck([[]]))
    try:
        state = anonymizer.new_track()
        anonymizer.process(portrait, state, 0.0)
        anonymizer.process(portrait, state, 0.1)
        out = anonymizer.process(portrait, state, 2.0)  # the worker has been stuck for two seconds
        assert np.array_equal(out, obscure_whole_frame(portrait))
    finally:
        gate.set()
        anonymizer.close()


def test_a_new_resolution_starts_over(portrait: np.ndarray) -> None:
    detector = FixedBoxesDetector([FACE])
    anonymizer = Anonymizer(OFF, detector)
    state = anonymizer.new_track()
    anonymizer.process(portrait, state, 0.0)
    small = np.ascontiguousarray(portrait[:240, :320])
    out = anonymizer.process(small, state, 0.1)
    assert out.shape == small.shape
    assert detector.seen[-1] == small.shape


@pytest.mark.parametrize("threads", [4])
def test_states_are_independent_across_threads(portrait: np.ndarray, threads: int) -> None:
    anonymizer = Anonymizer(OFF, FixedBoxesDetector([FACE]))
    states = [anonymizer.new_track() for _ in range(threads)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for n in range(10):
                anonymizer.process(portrait, states[i], n / 15)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert [s.snapshot().anonymized for s in states] == [10] * threads


def test_a_new_scene_is_fully_obscured_until_the_strong_detector_has_seen_it(portrait: np.ndarray) -> None:
    """After a cut (camera switched, lens uncovered) the held tracks describe the old picture: fail closed."""
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.BACKGROUND, strong_every=1, strong_every_calm=1)
    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=ScriptedDetector([[]] * 20))
    other_scene = np.ascontiguousarray(portrait[::-1, ::-1])  # the same pixels, another picture
    try:
        state = anonymizer.new_track()
        anonymizer.process(portrait, state, 0.0)  # warm-up (inline)
        anonymizer.process(portrait, state, 1 / 15)
        anonymizer.wait_idle(state, timeout=5)
        assert not np.array_equal(anonymizer.process(portrait, state, 2 / 15), obscure_whole_frame(portrait))
        cut = anonymizer.process(other_scene, state, 3 / 15)  # the detector has not seen this scene yet
        assert np.array_equal(cut, obscure_whole_frame(other_scene))
        anonymizer.wait_idle(state, timeout=5)
        anonymizer.process(other_scene, state, 4 / 15)  # merges the pass over the new scene
        anonymizer.wait_idle(state, timeout=5)
        after = anonymizer.process(other_scene, state, 5 / 15)
        assert not np.array_equal(after, obscure_whole_frame(other_scene))
    finally:
        anonymizer.close()


def _with_blinking_band(picture: np.ndarray, phase: int) -> np.ndarray:
    """``picture`` with black and white cells over its bottom twelfth that swap with ``phase`` (a screen, a
    counter, a blinking sign: high contrast that changes in one place)."""
    out = picture.copy()
    height, width = out.shape[:2]
    cells = np.indices((1, 16))[1] % 2 ^ phase % 2
    band = np.repeat(np.repeat(cells * 255, height // 12, axis=0), -(-width // 16), axis=1)[:, :width]
    out[height - height // 12 :] = band[..., None].astype(np.uint8)
    return out


def test_a_blinking_patch_is_no_new_scene(portrait: np.ndarray) -> None:
    """A patch of high contrast that changes alone can decorrelate the whole thumbnail, but the rest of the
    picture, and so the held tracks, are the same: withholding the picture each time was a grey frame (and a
    large encoded one) every time it blinked."""
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.BACKGROUND, strong_every=1, strong_every_calm=1)
    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=ScriptedDetector([[]] * 20))
    try:
        state = anonymizer.new_track()
        anonymizer.process(_with_blinking_band(portrait, 0), state, 0.0)  # warm-up (inline)
        anonymizer.process(_with_blinking_band(portrait, 0), state, 1 / 15)
        anonymizer.wait_idle(state, timeout=5)
        for index in range(2, 6):
            frame = _with_blinking_band(portrait, index)
            assert not np.array_equal(anonymizer.process(frame, state, index / 15), obscure_whole_frame(frame))
    finally:
        anonymizer.close()


class _PriorityProbe:
    """Records the scheduling priority (nice value) of the thread each detection runs on."""

    def __init__(self) -> None:
        self.nice: list[int] = []

    def detect(self, image: np.ndarray) -> list[Box]:
        self.nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return []


def test_the_background_detector_yields_the_cores_to_the_calls_frames(portrait: np.ndarray) -> None:
    """Its results are carried to whatever frame they reach; a call's frame waiting for a core is late for everyone."""
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.BACKGROUND, strong_every=1, strong_every_calm=1)
    probe = _PriorityProbe()
    anonymizer = Anonymizer(options, FixedBoxesDetector(), strong_detector=probe)
    caller = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    try:
        state = anonymizer.new_track()
        for i in range(3):
            anonymizer.process(portrait, state, i / 15)
            anonymizer.wait_idle(state, timeout=5)
    finally:
        anonymizer.close()
    inline, *background = probe.nice
    assert inline == caller  # a track's first frame is checked in the call's own thread, at its priority
    assert background and all(n == min(19, caller + BACKGROUND_NICENESS) for n in background)
