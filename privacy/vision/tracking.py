"""Holding and following face boxes across frames, and turning them into masks.

No single-frame detector finds a face in every frame: a turned head, motion blur or a dark frame makes it miss
for a few frames, and the expensive detector only runs on some frames. A face found once is therefore kept as a
*track*: it follows the image motion (:mod:`privacy.vision.motion`), is refreshed by every detection that matches it,
and is held for ``hold_s`` seconds after its last detection. While it is held its mask grows, because the
longer a box goes unconfirmed the less sure its position is. All functions here are pure.

Masks are generous (1.7x the detector box, stretched to a frame edge the face reaches) because a missed pixel
shows a face. That generosity is what a false box costs, and a false box is most often a large one: short-range
BlazeFace reports a third of the frame as a face at 0.4 to 0.6, and CenterFace at its low threshold reports
large boxes at 0.12 to 0.3 (issue 14; none of the large boxes at or above the *sure* scores of
:class:`privacy.options.AnonymizerOptions` was false in the benchmark). A track therefore remembers whether it
was ever *confirmed*: matched by a detection that is sure by its score or that both detector families report.
A large track that never was is still masked from its first frame and held like any other (fail closed), but
tightly: at ``unconfirmed_scale``, and never stretched to an edge, so one doubtful box cannot blur half the frame.
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
    confirmed: bool = True
    """Whether a sure detection (see :func:`associate`) ever matched it; a large unconfirmed track gets a tight
    mask (see :func:`masks`)."""


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
    growth_side_share: float = 0.25
    """The growth is that of a box at most this share of the frame's shorter side: how far a held face may
    have drifted is a matter of pixels, not of its size, and a near face has the most flow points to follow."""
    margin_share: float = 1 / 160
    """Added on every side of a mask, as a share of the frame's width: the detector's box is placed to within about
    half a cell of its output grid, an error that does not shrink with the face (CenterFace's cell is 8 px of a
    640 px frame), so small faces need it more than ``mask_scale`` gives them."""
    edge_reach: float = 0.25
    """A mask is stretched to a frame edge when its face-shaped box comes closer to it than this share of the
    box's side (the face is cut by the edge, or about to be)."""
    large_share: float = 0.25
    """A box this share of the frame's width or height or more is *large*: unconfirmed, it gets a tight mask
    and is held only ``hold_single_s``."""
    unconfirmed_scale: float = 1.3
    """Mask scale for a large track that no sure detection ever matched (deface's scale)."""
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


def associate(
    tracks: Sequence[Track],
    detections: Sequence[Box],
    now: float,
    config: TrackingConfig,
    sure: Sequence[Box] | None = None,
    frame_size: tuple[int, int] | None = None,
) -> list[Track]:
    """Tracks refreshed by ``detections``; unmatched detections start new tracks, expired tracks are dropped.

    Detections are first merged among themselves (several detectors and tiles see the same face), then
    matched greedily, best overlap first. ``sure`` are the detections that confirm a track they match (see
    :func:`privacy.box_merge.sure_boxes`); None counts every detection as sure. With ``frame_size`` (width,
    height) given, a large track that was never confirmed is held only ``hold_single_s``, like a one-off.
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
            updated[ti] = Track(dets[di], now, tracks[ti].hits + 1, tracks[ti].confirmed)
    updated.extend(Track(d, now, confirmed=sure is None) for di, d in enumerate(dets) if di not in used_d)
    if sure is not None:
        updated = _confirm(updated, sure, now, config.match_iou)
    alive = [t for t in updated if now - t.last_seen <= _hold(t, config, frame_size)]
    return _dedupe(alive, config.max_tracks)


def _hold(track: Track, config: TrackingConfig, frame_size: tuple[int, int] | None) -> float:
    """How long ``track`` is held without a detection."""
    if track.hits <= 1:
        return config.hold_single_s
    if not track.confirmed and frame_size is not None and is_large(track.box, *frame_size, config.large_share):
        return config.hold_single_s
    return config.hold_s


def _confirm(tracks: list[Track], sure: Sequence[Box], now: float, iou: float) -> list[Track]:
    """``tracks`` with every track refreshed at ``now`` that a ``sure`` box matches marked confirmed."""
    open_ = [i for i, t in enumerate(tracks) if not t.confirmed and t.last_seen == now]
    if not open_ or not sure:
        return tracks
    scores = _match_scores(as_array([tracks[i].box for i in open_]), as_array(sure), iou)
    out = list(tracks)
    for row, i in enumerate(open_):
        if scores[row].any():
            out[i] = replace(tracks[i], confirmed=True)
    return out


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
    slot: dict[int, int] = {}
    for i, track in enumerate(ordered):
        same = np.nonzero(duplicate[i] & keep)[0]
        if len(same):
            # The face it duplicates inherits its confirmation (a confirmed face stays confirmed).
            j = slot[int(same[0])]
            if track.confirmed and not kept[j].confirmed:
                kept[j] = replace(kept[j], confirmed=True)
            continue
        if len(kept) >= limit:
            break
        keep[i] = True
        slot[i] = len(kept)
        kept.append(track)
    return kept


def entering_face_width(boxes: Sequence[Box], width: int, config: TrackingConfig, floor: float = 8.0) -> float:
    """How far into the frame an entering face can reach and still be missed: the mask width of the scene's
    typical face (the median of those held), at least ``floor`` and at most ``ENTRY_CAP_SHARE`` of the width.

    Detectors find a face once most of it is in view; a face cut by the edge is missed until then. So what
    entered in the last frames stays masked as far in as one face reaches (see
    :func:`privacy.vision.motion.unseen_bands`). With no face held there is no scale to go by: ``floor``.
    """
    if not boxes:
        return floor
    typical = float(np.median([max(b.w, 0.8 * b.h) for b in boxes])) * config.mask_scale
    return max(floor, min(ENTRY_CAP_SHARE * width, typical))


ENTRY_CAP_SHARE = 0.12
"""The strip of :func:`entering_face_width` is never wider than this share of the frame (a close-up's face would
otherwise mask a third of the picture on every pan; a face that large is found while half of it is in view)."""


def _to_edges(mask: Box, face: Box, width: int, height: int, reach: float) -> Box:
    """``mask`` stretched to any frame edge that ``face`` (its face-shaped box) comes closer to than ``reach``
    times the face's side.

    A face cut by the frame edge is detected as its visible part, often narrower than a face; the part of
    the frame between the box and the edge is that same face, so it is masked too. Whether a face is cut is
    judged on the face, not on its enlarged mask: a large mask near an edge says nothing about the face inside
    it (a full-height band of the frame was masked for one false box, issue 14).
    """
    x0, y0, x1, y1 = mask.x, mask.y, mask.x + mask.w, mask.y + mask.h
    if face.x < reach * face.w:
        x0 = min(x0, 0.0)
    if width - (face.x + face.w) < reach * face.w:
        x1 = max(x1, float(width))
    if face.y < reach * face.h:
        y0 = min(y0, 0.0)
    if height - (face.y + face.h) < reach * face.h:
        y1 = max(y1, float(height))
    return Box(x0, y0, x1 - x0, y1 - y0, mask.score)


def _face_shaped(box: Box) -> Box:
    """At least as wide as 0.8 of its height and as tall as its width (a sliver is a cut face)."""
    w = max(box.w, 0.8 * box.h)
    h = max(box.h, box.w)
    return Box(box.cx - w / 2, box.cy - h / 2, w, h, box.score)


def is_large(box: Box, width: int, height: int, share: float) -> bool:
    """Whether ``box`` spans at least ``share`` of the frame's width or height."""
    return box.w >= share * width or box.h >= share * height


def masks(
    tracks: Sequence[Track], now: float, config: TrackingConfig, width: int | None = None, height: int | None = None
) -> list[Box]:
    """The rectangles to obscure: each track's box enlarged, more so the longer it went undetected.

    With the frame size given, masks whose face reaches an edge are also stretched to it (see
    :func:`_to_edges`), the growth while held is that of a box no larger than ``growth_side_share`` of the
    frame, and a large track that was never confirmed is masked at ``unconfirmed_scale`` without the stretch.
    """
    out = []
    for t in tracks:
        age = max(0.0, now - t.last_seen)
        face = _face_shaped(t.box)
        growth = min(config.max_growth, age * config.growth_per_s)
        if width is None or height is None:
            out.append(face.scaled(config.mask_scale + growth))
            continue
        doubtful = not t.confirmed and is_large(t.box, width, height, config.large_share)
        scale = config.unconfirmed_scale if doubtful else config.mask_scale
        cap = config.growth_side_share * min(width, height)
        margin = config.margin_share * width
        mask = face.scaled(scale)
        mask = Box(mask.x - margin, mask.y - margin, mask.w + 2 * margin, mask.h + 2 * margin, mask.score)
        # Growth in pixels as for a box of at most ``cap`` per side, added around the scaled mask.
        grow_w = growth * min(face.w, cap)
        grow_h = growth * min(face.h, cap)
        mask = Box(mask.x - grow_w / 2, mask.y - grow_h / 2, mask.w + grow_w, mask.h + grow_h, mask.score)
        if not doubtful:
            mask = _to_edges(mask, face, width, height, config.edge_reach)
        out.append(mask)
    return out
