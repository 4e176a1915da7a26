"""Combining face boxes from several detectors, tiles and frames.

For anonymization a duplicate box costs only a little blur, while a dropped box shows a face, so merging is
conservative: boxes are only suppressed when they clearly describe the same face (high IoU, or a small box
lying almost entirely inside a kept one), and the kept box is never shrunk.
"""

from __future__ import annotations

from collections.abc import Sequence

from privacy.boxes import Box


def intersection(a: Box, b: Box) -> float:
    """The area that ``a`` and ``b`` share."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return ix * iy


def union_box(a: Box, b: Box) -> Box:
    """The smallest box that holds both, with the higher score."""
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    return Box(x0, y0, x1 - x0, y1 - y0, max(a.score, b.score))


def nms(boxes: Sequence[Box], iou: float) -> list[Box]:
    """Greedy non-maximum suppression by score: drop boxes whose IoU with a better kept box exceeds ``iou``."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(box.iou(k) <= iou for k in kept):
            kept.append(box)
    return kept


def merge(boxes: Sequence[Box], iou: float = 0.5, inside: float = 0.85) -> list[Box]:
    """Fuse boxes that describe the same face, keeping every face's full extent.

    Two boxes fuse when their IoU exceeds ``iou`` or when at least ``inside`` of the smaller one lies in the
    larger one (a tile seeing half a face beside the whole-frame detection of it); the fused box is their
    union, so merging never uncovers a pixel that one of them covered.
    """
    pending = sorted(boxes, key=lambda b: b.w * b.h, reverse=True)
    fused: list[Box] = []
    for box in pending:
        for i, kept in enumerate(fused):
            small = min(box.w * box.h, kept.w * kept.h)
            shared = intersection(box, kept)
            if box.iou(kept) > iou or (small > 0 and shared / small >= inside):
                fused[i] = union_box(kept, box)
                break
        else:
            fused.append(box)
    return fused
