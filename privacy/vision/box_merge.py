"""Combining face boxes from several detectors, tiles and frames.

For anonymization a duplicate box costs only a little blur, while a dropped box shows a face, so merging is
conservative: boxes are only suppressed when they clearly describe the same face (high IoU, or a small box
lying almost entirely inside a kept one), and the kept box is never shrunk. A crowd gives hundreds of boxes,
so overlaps are computed as numpy matrices rather than pair by pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from privacy.vision.boxes import Box


def as_array(boxes: Sequence[Box]) -> np.ndarray:
    """N x 4 float array of ``x0, y0, x1, y1``."""
    if not boxes:
        return np.zeros((0, 4))
    return np.array([(b.x, b.y, b.x + b.w, b.y + b.h) for b in boxes], dtype=np.float64)


def intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """N x M matrix of the areas that boxes of ``a`` and ``b`` (both from :func:`as_array`) share."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    result: np.ndarray = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    return result


def areas(a: np.ndarray) -> np.ndarray:
    """The area of each box of ``a``."""
    result: np.ndarray = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    return result


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """N x M matrix of intersection over union."""
    inter = intersections(a, b)
    union = areas(a)[:, None] + areas(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


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
    if not boxes:
        return []
    order = sorted(range(len(boxes)), key=lambda i: boxes[i].score, reverse=True)
    arr = as_array([boxes[i] for i in order])
    overlaps = iou_matrix(arr, arr)
    suppressed = np.zeros(len(order), dtype=bool)
    kept: list[Box] = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(boxes[order[i]])
        suppressed |= overlaps[i] > iou
    return kept


def merge(boxes: Sequence[Box], iou: float = 0.5, inside: float = 0.85) -> list[Box]:
    """Fuse boxes that describe the same face, keeping every face's full extent.

    Two boxes fuse when their IoU exceeds ``iou`` or when at least ``inside`` of the smaller one lies in the
    larger one (a tile seeing half a face beside the whole-frame detection of it); the fused box is the union
    of its group, so merging never uncovers a pixel that one of them covered. Boxes are taken largest first,
    and each joins the first kept box it matches.
    """
    if len(boxes) < 2:
        return list(boxes)
    order = sorted(range(len(boxes)), key=lambda i: boxes[i].w * boxes[i].h, reverse=True)
    arr = as_array([boxes[i] for i in order])
    inter = intersections(arr, arr)
    area = areas(arr)
    union = area[:, None] + area[None, :] - inter
    smaller = np.minimum(area[:, None], area[None, :])
    same = (inter > iou * np.maximum(union, 1e-9)) | ((smaller > 0) & (inter >= inside * smaller))
    group = np.full(len(order), -1)
    fused: list[Box] = []
    for i in range(len(order)):
        if group[i] >= 0:
            continue
        group[i] = len(fused)
        box = boxes[order[i]]
        members = np.nonzero(same[i] & (group < 0))[0]
        for j in members:
            group[j] = group[i]
            box = union_box(box, boxes[order[j]])
        fused.append(box)
    return fused


def sure_boxes(
    fast: Sequence[Box], strong: Sequence[Box], fast_sure: float, strong_sure: float, iou: float = 0.3
) -> list[Box]:
    """The boxes that confirm a face: sure by their own detector's score, or reported by both detector families.

    ``fast`` come from BlazeFace, ``strong`` from CenterFace (carried to the same frame). Two different
    networks rarely invent the same false face, so a box that overlaps one of the other family (IoU above
    ``iou``, or its centre inside the other at a size within a factor of two) counts whatever its score.
    """
    sure = [b for b in fast if b.score >= fast_sure] + [b for b in strong if b.score >= strong_sure]
    if not fast or not strong:
        return sure
    a, b = as_array(fast), as_array(strong)
    overlaps = iou_matrix(a, b)
    acx, acy = (a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2
    bcx, bcy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    b_in_a = (bcx[None, :] >= a[:, None, 0]) & (bcx[None, :] <= a[:, None, 2])
    b_in_a &= (bcy[None, :] >= a[:, None, 1]) & (bcy[None, :] <= a[:, None, 3])
    a_in_b = (acx[:, None] >= b[None, :, 0]) & (acx[:, None] <= b[None, :, 2])
    a_in_b &= (acy[:, None] >= b[None, :, 1]) & (acy[:, None] <= b[None, :, 3])
    ratio = (b[:, 2] - b[:, 0])[None, :] / np.maximum(a[:, 2] - a[:, 0], 1e-9)[:, None]
    agree = (overlaps > iou) | ((b_in_a | a_in_b) & (ratio >= 0.5) & (ratio <= 2.0))
    sure += [box for box, hit in zip(fast, agree.any(axis=1), strict=True) if hit and box.score < fast_sure]
    sure += [box for box, hit in zip(strong, agree.any(axis=0), strict=True) if hit and box.score < strong_sure]
    return sure
