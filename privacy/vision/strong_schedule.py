"""When the expensive detector (CenterFace) runs: on every frame while the picture changes, less often while calm.

CenterFace costs about 24 ms of a 640x480 frame's ~30 ms of privacy CPU, so how often it runs decides the cost.
Between its passes the faces it found are held as tracks and carried by optical flow; that carry is exact when
nothing moves and drifts when the camera pans, a face moves fast, the light changes or new content enters. A
fixed "every third frame" let a face go uncovered for 7 frames on the motion clips (issue 14), because the
frames it skipped were the moving ones. Here the skip is earned: a frame is *calm* when the camera and every
followed face stood nearly still since the previous frame, no part of the picture changed much (someone
walking in), optical flow tracked enough points to say so, every
track has been confirmed by more than one detection, and neither the scene nor the lighting changed; only
then may CenterFace wait, and never longer than ``strong_every_calm`` frames.

A moving picture may also let it wait, but only one frame (``strong_skip_settled``), and only while it is
*settled*: the newest pass found nothing the held tracks did not already hold, and every track has been matched
three times or more. Then the tracks, carried by optical flow and refreshed by BlazeFace on every frame, describe
the picture as the pass did; the frame after a pass that found anything new (a face stepping in, a turned head
found again, a false box: the low-scoring boxes are the hard faces, so they count too), a cut or a change of
light runs it again at once. Entering faces are masked by the unseen-edge strips meanwhile. On the motion clips
this kept every face-frame that CenterFace on every frame covered and saved about a tenth of the CPU (issue 14).
All functions here are pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from privacy.vision.boxes import Box
from privacy.vision.tracking import Track

MIN_POINTS = 12
"""Fewer tracked flow points than this means the motion is unknown (a flat, black or blurred picture)."""


@dataclass(frozen=True, slots=True)
class CalmLimits:
    """How still a picture must be for the expensive detector to skip a frame."""

    camera_shift: float = 0.006
    """The camera moved at most this share of the frame width since the previous frame (4 px at 640)."""
    camera_zoom: float = 0.01
    """... and zoomed by at most this share."""
    face_shift: float = 0.08
    """Every followed face moved at most this share of its own width since the previous frame."""
    content_change: float = 12.0
    """No cell of a 32x24 grey thumbnail changed by more than this many grey levels since the previous frame
    (someone walking into a still picture moves no followed box and not the camera, but changes cells)."""


def camera_still(camera: np.ndarray, width: int, height: int, limits: CalmLimits) -> bool:
    """Whether the 2 x 3 similarity ``camera`` (full-resolution pixels) keeps the picture nearly in place.

    The frame's corners are moved by it: a pan, a zoom and a roll all move some corner.
    """
    corners = np.array([[0.0, 0.0], [width, 0.0], [0.0, height], [width, height]])
    moved = corners @ camera[:, :2].T + camera[:, 2]
    zoom = abs(float(np.hypot(camera[0, 0], camera[1, 0])) - 1.0)
    return float(np.abs(moved - corners).max()) <= limits.camera_shift * width and zoom <= limits.camera_zoom


THUMB = (32, 24)
"""The thumbnail size (width, height) on which content changes are compared (also the scene-cut check's)."""


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """The small float thumbnail of a grey image that :func:`largest_change` compares."""
    small: np.ndarray = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
    return small


def largest_change(previous: np.ndarray, current: np.ndarray) -> float:
    """The largest change of one thumbnail cell in grey levels (thumbnails from :func:`thumbnail`)."""
    return float(np.abs(current - previous).max())


def faces_still(before: Sequence[Box], after: Sequence[Box], limits: CalmLimits) -> bool:
    """Whether every followed box (``before`` carried to ``after``) moved less than its share of its width."""
    for a, b in zip(before, after, strict=True):
        if max(abs(b.cx - a.cx), abs(b.cy - a.cy)) > limits.face_shift * max(a.w, 1.0):
            return False
    return True


@dataclass(frozen=True, slots=True)
class FrameSignals:
    """What the anonymizer knows about the current frame before it decides (see :func:`is_calm`)."""

    flow_points: int
    """Points optical flow tracked from the previous frame (0: no previous frame)."""
    camera_still: bool
    faces_still: bool
    content_still: bool
    """No part of the picture changed much (see :attr:`CalmLimits.content_change`)."""
    unconfirmed_tracks: int
    """Tracks or heads that only one detection has matched so far (new, or possibly false)."""
    scene_cut: bool
    light_changed: bool
    """The detectors' input switched between the frame and its brightened copy (see :mod:`privacy.vision.lighting`)."""


def is_calm(signals: FrameSignals) -> bool:
    """Whether the held tracks describe this frame as well as a fresh expensive pass would (see module doc)."""
    return (
        signals.flow_points >= MIN_POINTS
        and signals.camera_still
        and signals.faces_still
        and signals.content_still
        and signals.unconfirmed_tracks == 0
        and not signals.scene_cut
        and not signals.light_changed
    )


SETTLED_HITS = 3
"""A track matched fewer times than this is still young: its face may have been found by luck, or be about to be
lost, and the next pass is what confirms it."""


def settled(tracks: Sequence[Track]) -> bool:
    """Whether every track is matched at least :data:`SETTLED_HITS` times (see the module's documentation); so the
    detections just merged started none (a new track has one hit)."""
    return all(t.hits >= SETTLED_HITS for t in tracks)


def strong_due(frames_since: int, calm_run: int, every: int, every_calm: int) -> bool:
    """Whether the expensive detector should run on this frame.

    ``frames_since`` counts frames since its last run (1: it ran on the previous frame); ``calm_run`` is how
    many frames in a row, up to this one, were calm. It runs every ``every`` frames, and may wait up to
    ``every_calm`` frames only across an unbroken calm run that covers the whole wait (a frame that moved
    since its last run makes it due at once).
    """
    if frames_since >= max(every, every_calm):
        return True
    if frames_since < every:
        return False
    return calm_run < frames_since
