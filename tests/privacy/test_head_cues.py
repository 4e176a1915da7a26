"""The head cue: heads taken from a person mask, on drawn silhouettes and on frames the face detectors miss.

The frames are made at test time from the shared video (never stored): a frame with one person, whose face
is painted over by an ellipse of hair texture large enough to hide ears and chin (the back of a head, as a
face detector sees it), optionally flipped, blurred, darkened or cut by the frame edge. The test first checks
that the real face detectors (BlazeFace and CenterFace at the live thresholds) find nothing on that head, then
that the live anonymizer still masks it, and that it does not without the head cue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions
from privacy.vision.boxes import Box
from privacy.vision.detector_stack import FastDetectors, StrongDetector
from privacy.vision.errors import ModelUnusable
from privacy.vision.head_cues import HeadCueConfig, HeadDetector, PersonSegmenter, heads_from_mask
from privacy.vision.options import StrongMode
from tests.fakes import FixedBoxesDetector, ScriptedDetector


def _covered(face: Box, masks: list[Box], width: int, height: int) -> float:
    raster = np.zeros((height, width), dtype=bool)
    for m in masks:
        c = m.clipped(width, height)
        if c is not None:
            raster[int(c.y) : int(np.ceil(c.y + c.h)), int(c.x) : int(np.ceil(c.x + c.w))] = True
    f = face.clipped(width, height)
    assert f is not None
    return float(raster[int(f.y) : int(f.y + f.h), int(f.x) : int(f.x + f.w)].mean())


# --- pure: heads from drawn silhouettes -------------------------------------------------------------------


def _silhouette(centres: list[tuple[int, int, int]], size: tuple[int, int] = (144, 256)) -> np.ndarray:
    """A person mask with a round head of radius r at (x, y) on wide shoulders for each entry."""
    mask = np.zeros(size, dtype=np.float32)
    for x, y, r in centres:
        cv2.circle(mask, (x, y), r, 1.0, -1)
        cv2.rectangle(mask, (x - 3 * r, y + int(1.3 * r)), (x + 3 * r, size[0] - 1), 1.0, -1)
        cv2.rectangle(mask, (x - r // 2, y), (x + r // 2, y + 2 * r), 1.0, -1)  # the neck
    return mask


def test_the_head_is_the_top_of_the_silhouette_not_the_shoulders() -> None:
    mask = _silhouette([(128, 50, 20)])
    heads = heads_from_mask(mask, 256, 144)
    assert len(heads) == 1
    head = heads[0]
    assert abs(head.cx - 128) < 4 and head.y <= 31
    assert 36 <= head.w <= 50, "as wide as the head, not the shoulders"
    assert head.y + head.h < 50 + 2.2 * 20


def test_two_people_give_two_heads_and_scale_to_the_frame() -> None:
    mask = _silhouette([(60, 50, 16), (190, 60, 16)])
    heads = sorted(heads_from_mask(mask, 640, 360), key=lambda b: b.x)
    assert len(heads) == 2
    sx = 640 / 256
    assert abs(heads[0].cx - 60 * sx) < 10 and abs(heads[1].cx - 190 * sx) < 10


def test_a_bun_or_a_tuft_on_top_of_a_head_does_not_hide_the_head() -> None:
    """The highest point of a head can be a fringe too small to be a head (a bun, a tuft, raised fingertips
    above it). Such a candidate is passed over; it must not count as a head that the real one overlaps."""
    mask = np.zeros((144, 256), dtype=np.float32)
    mask[40:80, 110:147] = 1.0  # a head seen from behind, 37 cells wide
    mask[30:40, 121:135] = 1.0  # a bun on the crown, 14 cells wide
    mask[80:90, 120:137] = 1.0  # the neck
    mask[90:144, 60:197] = 1.0  # the shoulders
    heads = heads_from_mask(mask, 640, 360)
    assert len(heads) == 1, heads
    s = 640 / 256
    head = heads[0]
    assert abs(head.cx - 128 * s) < 10 and 30 * s <= head.w <= 45 * s, "as wide as the head"
    assert head.y <= 40 * s and head.y + head.h <= 92 * s, "the head, not the shoulders under it"


def test_a_crowd_with_many_raised_hands_still_gives_every_head() -> None:
    """People close together make one silhouette; raised hands above them start candidates first (they are
    highest). Every head is still found: the hands do not use up the search."""
    heads_at = [(40, 80, 14), (100, 85, 14), (160, 78, 14), (220, 82, 14)]
    mask = _silhouette(heads_at)
    for x in (8, 20, 64, 76, 124, 136, 184, 196, 244):  # raised arms between and beside the heads
        mask[5:110, x : x + 5] = 1.0
    heads = sorted(heads_from_mask(mask, 640, 360), key=lambda b: b.x)
    sx = 640 / 256
    found = [x for x, _, _ in heads_at if any(abs(h.cx - x * sx) < 12 and h.w < 40 * sx for h in heads)]
    assert found == [x for x, _, _ in heads_at], heads


def test_a_head_cut_by_the_top_edge_is_still_a_head() -> None:
    mask = _silhouette([(128, 5, 22)])
    heads = heads_from_mask(mask, 256, 144)
    assert len(heads) == 1 and heads[0].y == 0 and heads[0].w >= 30


def test_no_person_no_heads_and_specks_are_ignored() -> None:
    assert heads_from_mask(np.zeros((144, 256), np.float32), 640, 480) == []
    specks = np.zeros((144, 256), np.float32)
    specks[10:12, 10:12] = 1.0
    specks[100, 200] = 1.0
    assert heads_from_mask(specks, 640, 480) == []
    assert heads_from_mask(np.zeros((0, 0), np.float32), 640, 480) == []
    assert heads_from_mask(_silhouette([(128, 50, 20)]), 0, 0) == []


def test_a_mask_of_the_whole_frame_is_not_a_head() -> None:
    assert heads_from_mask(np.ones((144, 256), np.float32), 640, 480, HeadCueConfig()) == []


# --- real models on frames the face detectors miss ----------------------------------------------------------


@pytest.fixture(scope="module")
def person_frame(test_data: Path) -> np.ndarray:
    """A frame of the shared clip with one person on a stage (frame 200, 640x360)."""
    capture = cv2.VideoCapture(str(test_data / "video" / "short_hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 199)
    ok, frame = capture.read()
    capture.release()
    assert ok
    return np.ascontiguousarray(frame)


@pytest.fixture(scope="module")
def face_stack() -> tuple[FastDetectors, StrongDetector]:
    options = AnonymizerOptions()
    return FastDetectors(options), StrongDetector(options)


def _back_of_head(frame: np.ndarray, face: Box, colour: tuple[int, int, int]) -> tuple[np.ndarray, Box]:
    """``frame`` with the face painted over by hair texture (ears and chin hidden); the painted box."""
    out = frame.copy()
    rx, ry = int(face.w * 0.85), int(face.h * 0.75)
    centre = (int(face.cx), int(face.cy - 0.05 * face.h))
    mask = np.zeros(out.shape[:2], np.uint8)
    cv2.ellipse(mask, centre, (rx, ry), 0, 0, 360, 255, -1)
    noise = np.random.default_rng(1).normal(0.0, 12.0, size=out.shape)
    texture = cv2.GaussianBlur((np.array(colour)[None, None, :] + noise).clip(0, 255).astype(np.uint8), (0, 0), 1.5)
    out[mask > 0] = texture[mask > 0]
    painted = Box(
        float(centre[0] - rx), float(max(0, centre[1] - ry)), 2.0 * rx, float(centre[1] + ry - max(0, centre[1] - ry))
    )
    return out, painted


def _variants(frame: np.ndarray, face: Box) -> dict[str, tuple[np.ndarray, Box]]:
    def flipped(image: np.ndarray, box: Box) -> tuple[np.ndarray, Box]:
        return np.ascontiguousarray(cv2.flip(image, 1)), Box(image.shape[1] - box.x - box.w, box.y, box.w, box.h)

    made: dict[str, tuple[np.ndarray, Box]] = {}
    for name, colour in (("brown", (60, 80, 110)), ("fair", (120, 160, 190))):
        image, box = _back_of_head(frame, face, colour)
        made[name] = (image, box)
        made[f"{name}, flipped"] = flipped(image, box)
        made[f"{name}, blurred"] = (cv2.GaussianBlur(image, (0, 0), 3), box)
        made[f"{name}, dark"] = (cv2.convertScaleAbs(image, alpha=0.4), box)
    return made


def _face_found(stack: tuple[FastDetectors, StrongDetector], image: np.ndarray, head: Box) -> bool:
    fast, strong = stack
    boxes = fast.detect(image, 0, thorough=True) + strong.detect_thorough(image)
    return any(head.contains(b.cx, b.cy) for b in boxes)


def test_heads_the_face_detectors_miss_are_masked(
    person_frame: np.ndarray, face_stack: tuple[FastDetectors, StrongDetector], live: Anonymizer
) -> None:
    face = max(face_stack[1].detect(person_frame), key=lambda b: b.w * b.h)
    assert face.h > 80, "the test frame must show one large face"
    missed: list[str] = []
    height, width = person_frame.shape[:2]
    for name, (image, head) in _variants(person_frame, face).items():
        if _face_found(face_stack, image, head):
            continue
        missed.append(name)
        state = live.new_track()
        live.process(image, state, 0.0)
        live.wait_idle(state)
        assert _covered(head, state.last_masks, width, height) >= 0.8, name
    # The premise of the test: the face detectors miss most of these heads (all would be better, but CenterFace
    # at a low threshold sometimes fires on a head-shaped blob, which covers the head too).
    assert len(missed) >= 4, f"face detectors missed only {missed}"


def test_without_the_head_cue_such_a_head_is_not_masked(
    person_frame: np.ndarray, face_stack: tuple[FastDetectors, StrongDetector]
) -> None:
    face = max(face_stack[1].detect(person_frame), key=lambda b: b.w * b.h)
    height, width = person_frame.shape[:2]
    anonymizer = Anonymizer(replace(AnonymizerOptions(), head_every=0))
    try:
        for image, head in _variants(person_frame, face).values():
            if _face_found(face_stack, image, head):
                continue
            state = anonymizer.new_track()
            anonymizer.process(image, state, 0.0)
            assert _covered(head, state.last_masks, width, height) < 0.8
            return
    finally:
        anonymizer.close()
    pytest.fail("no variant that the face detectors miss")


def test_head_detector_on_a_head_cut_by_the_frame_edge(person_frame: np.ndarray) -> None:
    detector = HeadDetector()
    heads = detector.detect(person_frame)
    assert len(heads) == 1
    head = heads[0]
    cut = np.ascontiguousarray(person_frame[:, int(head.cx) :])  # half the head is out of the frame
    found = detector.detect(cut)
    visible = Box(0.0, head.y, head.x + head.w - int(head.cx), head.h)
    assert found and _covered(visible, found, cut.shape[1], cut.shape[0]) >= 0.8


def test_person_mask_on_odd_sizes_and_flat_frames() -> None:
    segmenter = PersonSegmenter()
    for shape in ((1, 1, 3), (3, 5, 3), (481, 641, 3), (2160, 3840, 3)):
        for value in (0, 128):
            image = np.full(shape, value, np.uint8)
            mask = segmenter.person_mask(image)
            assert mask.shape == (144, 256)
            assert heads_from_mask(mask, shape[1], shape[0]) == []


def test_a_corrupt_segmentation_model_fails_at_construction() -> None:
    broken: Callable[[], PersonSegmenter] = lambda: PersonSegmenter(b"not a model at all")  # noqa: E731
    with pytest.raises(ModelUnusable, match="could not be loaded"):
        broken()


# --- the anonymizer's use of heads, with fake detectors --------------------------------------------------------


def test_a_head_without_a_face_is_masked_held_and_followed_until_it_expires() -> None:
    head = Box(300.0, 40.0, 110.0, 140.0)
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.OFF, head_every=3)
    heads = ScriptedDetector([[head], [], [], [], [], [], [], [], [], [], [], []])
    anonymizer = Anonymizer(options, FixedBoxesDetector([]), head_detector=heads)
    state = anonymizer.new_track()
    frame = np.full((480, 640, 3), 90, np.uint8)
    hold = options.head_tracking.hold_s
    for i in range(12):
        now = i / 15
        anonymizer.process(frame, state, now)
        if now <= hold:
            assert _covered(head, state.last_masks, 640, 480) >= 0.99, i
        else:
            assert _covered(head, state.last_masks, 640, 480) == 0.0, i


def test_a_head_whose_face_is_masked_adds_no_second_mask() -> None:
    face = Box(320.0, 80.0, 70.0, 80.0)
    head = Box(315.0, 50.0, 80.0, 100.0)
    options = replace(AnonymizerOptions(), strong_mode=StrongMode.OFF, head_every=1)
    anonymizer = Anonymizer(options, FixedBoxesDetector([face]), head_detector=FixedBoxesDetector([head]))
    state = anonymizer.new_track()
    anonymizer.process(np.full((480, 640, 3), 90, np.uint8), state, 0.0)
    assert len(state.last_masks) == 1
