"""Holding and following face boxes across frames, and turning them into masks.

No single-frame detector finds a face in every frame: a turned head, motion blur or a dark frame makes it miss
for a few frames, and the expensive detector only runs on some frames. A face found once is therefore kept as a
*track*: it follows the image motion (:mod:`privacy.motion`), is refreshed by every detection that matches it,
and is held for ``hold_s`` seconds after its last detection. While it is held its mask grows, because the
longer a box goes unconfirmed the less sure its position is. All functions here are pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from privacy.box_merge import intersection, merge
from privacy.boxes import Box
from privacy.motion import Motion


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
    match_iou: float = 0.2
    """A detection refreshes a track when their IoU exceeds this (or its centre lies in the track's box)."""
    mask_scale: float = 1.6
    """Masks are detector boxes scaled by this (hair, ears, chin and the detector's looseness)."""
    growth_per_s: float = 0.6
    """Extra mask scale per second since the last detection (position uncertainty while held)."""
    max_growth: float = 0.5
    """Cap on the extra scale from ``growth_per_s``."""
    max_tracks: int = 96
    """At most this many tracks are kept (the most recently seen), bounding the cost of crowds."""


def advance(tracks: Sequence[Track], motion: Motion) -> list[Track]:
    """Every track carried along with the image motion to the current frame."""
    return [replace(t, box=motion.move(t.box)) for t in tracks]


def _matches(track: Box, det: Box, iou: float) -> float:
    overlap = track.iou(det)
    if overlap > iou:
        return overlap
    ratio = det.w / track.w if track.w > 0 else 0.0
    if track.contains(det.cx, det.cy) and 0.5 <= ratio <= 2.0:
        return iou + 1e-6
    return 0.0


def associate(tracks: Sequence[Track], detections: Sequence[Box], now: float, config: TrackingConfig) -> list[Track]:
    """Tracks refreshed by ``detections``; unmatched detections start new tracks, expired tracks are dropped.

    Detections are first merged among themselves (several detectors and tiles see the same face), then
    matched greedily, best overlap first.
    """
    dets = merge(detections)
    pairs = sorted(
        (
            (score, ti, di)
            for ti, t in enumerate(tracks)
            for di, d in enumerate(dets)
            if (score := _matches(t.box, d, config.match_iou)) > 0
        ),
        reverse=True,
    )
    used_t: set[int] = set()
    used_d: set[int] = set()
    updated: list[Track] = list(tracks)
    for _, ti, di in pairs:
        if ti in used_t or di in used_d:
            continue
        used_t.add(ti)
        used_d.add(di)
        updated[ti] = Track(dets[di], now, tracks[ti].hits + 1)
    updated.extend(Track(d, now) for di, d in enumerate(dets) if di not in used_d)
    alive = [t for t in updated if now - t.last_seen <= config.hold_s]
    return _dedupe(alive, config.max_tracks)


def _dedupe(tracks: Sequence[Track], limit: int) -> list[Track]:
    """Drop tracks that duplicate a more recent one (two tracks that drifted onto the same face)."""
    kept: list[Track] = []
    for track in sorted(tracks, key=lambda t: (t.last_seen, t.hits), reverse=True):
        duplicate = False
        for other in kept:
            a, b = track.box.w * track.box.h, other.box.w * other.box.h
            small, large = min(a, b), max(a, b)
            # Containment only counts between boxes of similar size: a small face inside a large (possibly
            # false) box must keep its own track, or it would vanish when the large one expires.
            contained = small > 0 and small / large > 0.4 and intersection(track.box, other.box) / small > 0.9
            if track.box.iou(other.box) > 0.6 or contained:
                duplicate = True
                break
        if not duplicate:
            kept.append(track)
        if len(kept) >= limit:
            break
    return kept


def masks(tracks: Sequence[Track], now: float, config: TrackingConfig) -> list[Box]:
    """The rectangles to obscure: each track's box enlarged, more so the longer it went unconfirmed."""
    out = []
    for t in tracks:
        age = max(0.0, now - t.last_seen)
        out.append(t.box.scaled(config.mask_scale + min(config.max_growth, age * config.growth_per_s)))
    return out
