"""Holding and following face boxes across frames, and turning them into masks.

No single-frame detector finds a face in every frame: a turned head, motion blur or a dark frame makes it miss
for a few frames, and the expensive detector only runs on some frames. A face found once is therefore kept as a
*track*: it follows the image motion (:mod:`privacy.vision.motion`), is refreshed by every detection that matches it,
and is held for ``hold_s`` seconds after its last detection. While it is held its mask grows, because the
longer a box goes unconfirmed the less sure its position is. All functions here are pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from privacy.vision.box_merge import areas, as_array, intersections, iou_matrix, merge
from privacy.vision.boxes import Box
from privacy.vision.motion import Motion


@dataclass(frozen=True, slots=True)
class Track:
    """One face being followed."""

    box: Box
    """Where the face is now (detector-sized, before mask enlargement)."""
    last_seen: float
    """The ``now`` of the last detection that matched it."""
    hits: int = 1
    """How many detections matched it so far."""


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    """How tracks are matched, held and masked."""

    hold_s: float = 1.0
    """A track without a matching detection is kept this long."""
    hold_single_s: float = 0.5
    """A track that only one detection ever matched is kept this long (a one-off is more often a false box)."""
    match_iou: float = 0.2
    """A detection refreshes a track when their IoU exceeds this (or its centre lies in the track's box)."""
    mask_scale: float = 1.7
    """Masks are detector boxes scaled by this (hair, ears, chin and the detector's looseness)."""
    growth_per_s: float = 0.6
    """Extra mask scale per second since the last detection (position uncertainty while held)."""
    max_growth: float = 0.5
    """Cap on the extra scale from ``growth_per_s``."""
    edge_reach: float = 0.25
    """A mask closer to a frame edge than this share of its size is stretched to the edge (cut faces)."""
    max_tracks: int = 96
    """At most this many tracks are kept (the most recently seen), bounding the cost of crowds."""


def advance(tracks: Sequence[Track], motion: Motion) -> list[Track]:
    """Every track carried along with the image motion to the current frame."""
    moved = motion.move_all([t.box for t in tracks])
    return [replace(t, box=box) for t, box in zip(tracks, moved, strict=True)]


def _match_scores(tracks: np.ndarray, dets: np.ndarray, iou: float) -> np.ndarray:
    """T x D matrix: the IoU where it exceeds ``iou``, just above ``iou`` where the detection's centre lies in
    the track's box at a similar size (a face that moved a lot), else 0."""
    overlaps = iou_matrix(tracks, dets)
    cx = (dets[:, 0] + dets[:, 2]) / 2
    cy = (dets[:, 1] + dets[:, 3]) / 2
    inside = (
        (cx[None, :] >= tracks[:, None, 0])
        & (cx[None, :] <= tracks[:, None, 2])
        & (cy[None, :] >= tracks[:, None, 1])
        & (cy[None, :] <= tracks[:, None, 3])
    )
    tw = np.maximum(tracks[:, 2] - tracks[:, 0], 1e-9)
    ratio = (dets[:, 2] - dets[:, 0])[None, :] / tw[:, None]
    near = inside & (ratio >= 0.5) & (ratio <= 2.0)
    return np.where(overlaps > iou, overlaps, np.where(near, iou + 1e-6, 0.0))


def associate(tracks: Sequence[Track], detections: Sequence[Box], now: float, config: TrackingConfig) -> list[Track]:
    """Tracks refreshed by ``detections``; unmatched detections start new tracks, expired tracks are dropped.

    Detections are first merged among themselves (several detectors and tiles see the same face), then
    matched greedily, best overlap first.
    """
    dets = merge(detections)
    updated: list[Track] = list(tracks)
    used_d: set[int] = set()
    if tracks and dets:
        scores = _match_scores(as_array([t.box for t in tracks]), as_array(dets), config.match_iou)
        ti_list, di_list = np.nonzero(scores)
        order = np.argsort(-scores[ti_list, di_list], kind="stable")
        used_t: set[int] = set()
        for k in order:
            ti, di = int(ti_list[k]), int(di_list[k])
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            updated[ti] = Track(dets[di], now, tracks[ti].hits + 1)
    updated.extend(Track(d, now) for di, d in enumerate(dets) if di not in used_d)
    alive = [t for t in updated if now - t.last_seen <= (config.hold_s if t.hits > 1 else config.hold_single_s)]
    return _dedupe(alive, config.max_tracks)


def _dedupe(tracks: Sequence[Track], limit: int) -> list[Track]:
    """Drop tracks that duplicate a more recent one (two tracks that drifted onto the same face)."""
    if not tracks:
        return []
    ordered = sorted(tracks, key=lambda t: (t.last_seen, t.hits), reverse=True)
    arr = as_array([t.box for t in ordered])
    inter = intersections(arr, arr)
    area = areas(arr)
    union = area[:, None] + area[None, :] - inter
    small = np.minimum(area[:, None], area[None, :])
    large = np.maximum(np.maximum(area[:, None], area[None, :]), 1e-9)
    # Containment only counts between boxes of similar size: a small face inside a large (possibly false)
    # box must keep its own track, or it would vanish when the large one expires.
    contained = (small > 0) & (small / large > 0.4) & (inter > 0.9 * small)
    duplicate = (inter > 0.6 * np.maximum(union, 1e-9)) | contained
    keep = np.zeros(len(ordered), dtype=bool)
    kept: list[Track] = []
    for i, track in enumerate(ordered):
        if (duplicate[i] & keep).any():
            continue
        keep[i] = True
        kept.append(track)
        if len(kept) >= limit:
            break
    return kept


def _to_edges(box: Box, width: int, height: int, reach: float) -> Box:
    """``box`` stretched to any frame edge that is closer than ``reach`` times its size.

    A face cut by the frame edge is detected as its visible part, often narrower than a face; the part of
    the frame between the box and the edge is that same face, so it is masked too.
    """
    x0, y0, x1, y1 = box.x, box.y, box.x + box.w, box.y + box.h
    if x0 < reach * box.w:
        x0 = min(x0, 0.0)
    if width - x1 < reach * box.w:
        x1 = max(x1, float(width))
    if y0 < reach * box.h:
        y0 = min(y0, 0.0)
    if height - y1 < reach * box.h:
        y1 = max(y1, float(height))
    return Box(x0, y0, x1 - x0, y1 - y0, box.score)


def _face_shaped(box: Box) -> Box:
    """At least as wide as 0.8 of its height and as tall as its width (a sliver is a cut face)."""
    w = max(box.w, 0.8 * box.h)
    h = max(box.h, box.w)
    return Box(box.cx - w / 2, box.cy - h / 2, w, h, box.score)


def masks(
    tracks: Sequence[Track], now: float, config: TrackingConfig, width: int | None = None, height: int | None = None
) -> list[Box]:
    """The rectangles to obscure: each track's box enlarged, more so the longer it went unconfirmed.

    With the frame size given, masks near an edge are also stretched to it (see :func:`_to_edges`).
    """
    out = []
    for t in tracks:
        age = max(0.0, now - t.last_seen)
        mask = _face_shaped(t.box).scaled(config.mask_scale + min(config.max_growth, age * config.growth_per_s))
        if width is not None and height is not None:
            mask = _to_edges(mask, width, height, config.edge_reach)
        out.append(mask)
    return out
