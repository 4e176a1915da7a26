"""How things moved between two frames: sparse optical flow, then a shift and scale per face box.

Between detections a held box must follow its face, or the face walks out from under its mask when the person
turns or the tablet pans. Pyramidal Lucas-Kanade on a half-resolution grey image is cheap (about 0.6 ms for
150 points): a coarse grid over the whole frame gives the camera's motion (a similarity transform), and a
few points inside each box give that face's own motion. A box with too few trackable points follows the
camera's motion instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from privacy.vision.boxes import Box

FLOW_SCALE = 0.5
"""Flow runs at half resolution: faces move tens of pixels per frame, not single ones."""
MAX_SCALE_STEP = 1.08
"""The largest zoom between two frames that a held box follows (camera zooms are slower than this)."""
_GRID = 8
_BOX_POINTS = 3
_LOCAL_MIN_SIDE = 40.0
_WIN = (11, 11)
_LEVELS = 3
_MAX_ROUND_TRIP = 1.0
_IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def flow_image(frame_bgr: np.ndarray) -> np.ndarray:
    """The grey, half-resolution image that :func:`estimate_motion` compares."""
    h, w = frame_bgr.shape[:2]
    small = cv2.resize(
        frame_bgr, (max(8, int(w * FLOW_SCALE)), max(8, int(h * FLOW_SCALE))), interpolation=cv2.INTER_AREA
    )
    grey: np.ndarray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return grey


@dataclass(frozen=True, slots=True)
class Motion:
    """Point correspondences from one frame to the next (full-resolution pixels) and the camera's motion."""

    before: np.ndarray
    """N x 2 positions in the earlier frame."""
    after: np.ndarray
    """N x 2 positions of the same points in the later frame."""
    camera: np.ndarray
    """2 x 3 similarity transform that best explains all points (identity when unknown)."""

    @staticmethod
    def still() -> Motion:
        """No motion at all."""
        empty = np.zeros((0, 2), dtype=np.float32)
        return Motion(empty, empty, _IDENTITY.copy())

    def move(self, box: Box) -> Box:
        """``box`` carried to the later frame (see :meth:`move_all`)."""
        return self.move_all([box])[0]

    def move_all(self, boxes: Sequence[Box]) -> list[Box]:
        """Every box carried to the later frame.

        The shift is the median of a box's own points when it has enough of them (the face's own motion),
        else the camera's; the scale is always the camera's (a few points on a face give noisy scale, and a
        noisy scale compounds over held frames), limited to a plausible change per frame. A face does not jump
        by more than its own size between frames, so a larger local shift is taken as a tracking error.
        """
        if not boxes:
            return []
        m = self.camera
        scale = float(np.clip(np.hypot(m[0, 0], m[1, 0]), 1 / MAX_SCALE_STEP, MAX_SCALE_STEP))
        arr = np.array([(b.cx, b.cy, b.w, b.h) for b in boxes], dtype=np.float64)
        cx = m[0, 0] * arr[:, 0] + m[0, 1] * arr[:, 1] + m[0, 2]
        cy = m[1, 0] * arr[:, 0] + m[1, 1] * arr[:, 1] + m[1, 2]
        if len(self.before):
            px, py = self.before[:, 0], self.before[:, 1]
            x0, x1 = arr[:, 0] - arr[:, 2] / 2, arr[:, 0] + arr[:, 2] / 2
            y0, y1 = arr[:, 1] - arr[:, 3] / 2, arr[:, 1] + arr[:, 3] / 2
            inside = (px[None, :] >= x0[:, None]) & (px[None, :] <= x1[:, None])
            inside &= (py[None, :] >= y0[:, None]) & (py[None, :] <= y1[:, None])
            shifts = self.after - self.before
            for i in np.nonzero(inside.sum(axis=1) >= 4)[0]:
                dx, dy = np.median(shifts[inside[i]], axis=0)
                own_x, own_y = arr[i, 0] + dx, arr[i, 1] + dy
                if abs(own_x - cx[i]) <= max(arr[i, 2], 16.0) and abs(own_y - cy[i]) <= max(arr[i, 3], 16.0):
                    cx[i], cy[i] = own_x, own_y
        w, h = arr[:, 2] * scale, arr[:, 3] * scale
        return [
            Box(float(x - bw / 2), float(y - bh / 2), float(bw), float(bh), b.score)
            for x, y, bw, bh, b in zip(cx, cy, w, h, boxes, strict=True)
        ]


def _seed_points(width: int, height: int, boxes: Sequence[Box]) -> np.ndarray:
    xs = (np.arange(_GRID) + 0.5) * width / _GRID
    ys = (np.arange(_GRID) + 0.5) * height / _GRID
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    local = []
    offsets = (np.arange(_BOX_POINTS) + 0.5) / _BOX_POINTS
    for box in boxes:
        if box.w < _LOCAL_MIN_SIDE * FLOW_SCALE:
            continue  # small faces move with the camera; their own points would be too few to trust
        for fy in offsets:
            for fx in offsets:
                local.append((box.x + fx * box.w, box.y + fy * box.h))
    points = np.concatenate([grid, np.asarray(local, dtype=np.float64).reshape(-1, 2)])
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    return points[inside].astype(np.float32)


def estimate_motion(prev_grey: np.ndarray, grey: np.ndarray, boxes: Sequence[Box]) -> Motion:
    """Point motion from ``prev_grey`` to ``grey`` (both from :func:`flow_image`) around ``boxes``.

    Returns :meth:`Motion.still` when the images differ in size (a resolution change) or nothing tracks.
    """
    if prev_grey.shape != grey.shape:
        return Motion.still()
    h, w = grey.shape
    seeds = _seed_points(
        w, h, [Box(b.x * FLOW_SCALE, b.y * FLOW_SCALE, b.w * FLOW_SCALE, b.h * FLOW_SCALE) for b in boxes]
    )
    if len(seeds) == 0:
        return Motion.still()
    # Equalising both images makes flow indifferent to exposure changes (a light switched off, a backlit
    # stretch): any monotone change of brightness gives the same equalised image.
    a, b = cv2.equalizeHist(prev_grey), cv2.equalizeHist(grey)
    start = seeds.reshape(-1, 1, 2)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        a, b, start, start.copy(), winSize=_WIN, maxLevel=_LEVELS, flags=cv2.OPTFLOW_USE_INITIAL_FLOW
    )
    back, back_status, _ = cv2.calcOpticalFlowPyrLK(
        b, a, moved, start.copy(), winSize=_WIN, maxLevel=_LEVELS, flags=cv2.OPTFLOW_USE_INITIAL_FLOW
    )
    # Forward-backward check: a point that does not come back to where it started was tracked wrongly.
    round_trip = np.linalg.norm(np.asarray(back).reshape(-1, 2) - seeds, axis=1)
    ok = (np.asarray(status).ravel() == 1) & (np.asarray(back_status).ravel() == 1) & (round_trip < _MAX_ROUND_TRIP)
    before = seeds[ok] / FLOW_SCALE
    after = np.asarray(moved).reshape(-1, 2)[ok] / FLOW_SCALE
    camera = _IDENTITY.copy()
    if len(before) >= 6:
        fitted, _ = cv2.estimateAffinePartial2D(before, after, method=cv2.RANSAC, ransacReprojThreshold=3.0)
        if fitted is not None and _plausible(fitted, w / FLOW_SCALE):
            camera = fitted
    return Motion(before, after, camera)


def _plausible(matrix: np.ndarray, width: float) -> bool:
    """Whether a fitted camera motion is one a real camera makes between two frames."""
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    angle = abs(float(np.arctan2(matrix[1, 0], matrix[0, 0])))
    shift = float(np.hypot(matrix[0, 2], matrix[1, 2]))
    return 1 / 1.2 < scale < 1.2 and angle < 0.15 and shift < 0.3 * width * scale + abs(scale - 1) * width


def camera_rotation_deg(camera: np.ndarray) -> float:
    """How far ``camera`` (previous frame to this one) turns the picture, in degrees, clockwise positive as the
    picture shows it (image rows grow downwards)."""
    return float(np.degrees(np.arctan2(camera[1, 0], camera[0, 0])))


def unseen_bands(camera: np.ndarray, width: int, height: int, frames: int, margin: float = 8.0) -> list[Box]:
    """Strips along the frame edges that show content no detector has seen whole (a pan or a zoom-out).

    ``camera`` maps the previous frame to this one. Content entering through an edge has not been seen at all
    by a detector whose results lag ``frames`` frames, and a face that entered is missed while it is cut by the
    edge, until most of it is in view. So each strip is the per-frame entry width times ``frames``, plus
    ``margin``: how far in a face can reach and still be cut (the caller's typical face width,
    :func:`privacy.vision.tracking.entering_face_width`). Entry narrower than two pixels (camera shake) is
    ignored: there the edge shows what it showed before.
    """
    if frames < 0:
        return []
    s = float(np.hypot(camera[0, 0], camera[1, 0]))
    tx, ty = float(camera[0, 2]), float(camera[1, 2])
    left, top = tx, ty
    right, bottom = width - (tx + s * width), height - (ty + s * height)
    bands: list[Box] = []
    if left >= 2:
        bands.append(Box(0.0, 0.0, min(width, left * frames + margin), float(height)))
    if right >= 2:
        w = min(width, right * frames + margin)
        bands.append(Box(width - w, 0.0, w, float(height)))
    if top >= 2:
        bands.append(Box(0.0, 0.0, float(width), min(height, top * frames + margin)))
    if bottom >= 2:
        h = min(height, bottom * frames + margin)
        bands.append(Box(0.0, height - h, float(width), h))
    return bands
