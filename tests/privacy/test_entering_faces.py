"""Faces that enter the picture through an edge during a pan (issue 14).

A face detector finds a face once most of it is in view; while the edge cuts it, it is missed. The detector here
does exactly that (it sees a face only when at least 90 % of its width is in the frame), so the tests show what
the anonymizer itself must do for the cut face, independent of how good a real detector is at the edge.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from bench.coverage import is_covered, mask_raster
from privacy.vision.anonymizer import Anonymizer, AnonymizerOptions
from privacy.vision.boxes import Box
from privacy.vision.options import StrongMode

FACE = 40
STEP = 12  # pixels per frame the camera pans to the right (the picture moves left)
WIDTH, HEIGHT = 640, 480


class WholeFacesOnly:
    """Finds the pure red squares that are at least 90 % in view (a cut face is not found)."""

    def detect(self, image: np.ndarray) -> list[Box]:
        red = ((image[:, :, 2] > 200) & (image[:, :, 1] < 60) & (image[:, :, 0] < 60)).astype(np.uint8)
        count, _labels, stats, _centres = cv2.connectedComponentsWithStats(red)
        return [
            Box(float(x), float(y), float(w), float(h))
            for x, y, w, h, _area in stats[1:count]
            if w >= 0.9 * FACE and h >= 0.9 * FACE
        ]


def _world() -> tuple[np.ndarray, list[Box]]:
    """A grey textured scene (optical flow has points to follow), wider than the frame, with two faces: one in view
    from the start, one just beyond the right edge."""
    rng = np.random.default_rng(7)
    grey = cv2.GaussianBlur(rng.integers(40, 220, (HEIGHT, 2 * WIDTH), dtype=np.uint8), (5, 5), 0)
    world = np.repeat(grey[:, :, None], 3, axis=2)
    faces = [Box(300, 200, FACE, FACE), Box(WIDTH + 20, 260, FACE, FACE)]
    for face in faces:
        world[int(face.y) : int(face.y + FACE), int(face.x) : int(face.x + FACE)] = (0, 0, 255)
    return world, faces


def _pan(options: AnonymizerOptions, frames: int) -> list[tuple[float, list[Box], list[Box]]]:
    """Per frame: the share of the entering face in view, its visible part, and the masks."""
    world, faces = _world()
    detector = WholeFacesOnly()
    anonymizer = Anonymizer(replace(options, head_every=0), detector, strong_detector=detector)
    out = []
    try:
        state = anonymizer.new_track()
        for i in range(frames):
            offset = STEP * i
            frame = np.ascontiguousarray(world[:, offset : offset + WIDTH])
            anonymizer.process(frame, state, i / 15)
            anonymizer.wait_idle(state, timeout=5)
            entering = Box(faces[1].x - offset, faces[1].y, FACE, FACE)
            visible = entering.clipped(WIDTH, HEIGHT)
            share = 0.0 if visible is None else visible.w / FACE
            out.append((share, [] if visible is None else [visible], list(state.last_masks)))
    finally:
        anonymizer.close()
    return out


def test_a_face_cut_by_the_edge_of_a_pan_is_masked_before_the_detector_can_find_it() -> None:
    frames = _pan(AnonymizerOptions(), 12)
    cut = [(i, visible) for i, (share, visible, _masks) in enumerate(frames) if 0.25 <= share < 0.9]
    assert len(cut) >= 2, "the pan must show the face cut by the edge on a few frames"
    for i, (share, visible, masks) in enumerate(frames):
        if share >= 0.25:
            raster = mask_raster(masks, WIDTH, HEIGHT)
            assert is_covered(visible[0], raster), f"frame {i}: {share:.0%} of the face in view, not masked"


def test_offline_files_mask_a_strip_at_the_entering_edge_that_does_not_grow_with_the_pan() -> None:
    """Offline, the expensive detector sees every frame itself: the strip is one face wide, however long the pan."""
    frames = _pan(replace(AnonymizerOptions(), strong_mode=StrongMode.INLINE), 40)
    _share, _visible, masks = frames[-1]
    strips = [m for m in masks if m.h >= HEIGHT]
    assert strips, "the entering edge is masked"
    assert max(s.w for s in strips) <= 0.15 * WIDTH
    assert mask_raster(masks, WIDTH, HEIGHT).mean() == pytest.approx(max(s.w for s in strips) / WIDTH, abs=0.05)
