"""Running a detector on overlapping crops so that small faces become big enough for it.

BlazeFace scales the whole frame down to 128 or 192 pixels, so a 40 px face in a 640x480 frame shrinks to
about 8 px and is lost. On a crop of a third of the frame the same face is three times larger. Tiles overlap
by more than a typical small face so that a face cut by one tile's edge is whole in its neighbour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privacy.vision.box_merge import merge
from privacy.vision.boxes import Box, FaceDetector


@dataclass(frozen=True, slots=True)
class Tile:
    """A crop rectangle in frame pixels (end exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int


def tile_grid(width: int, height: int, cols: int, rows: int, overlap: float = 0.25) -> list[Tile]:
    """``cols`` x ``rows`` tiles covering a ``width`` x ``height`` frame, neighbours overlapping by ``overlap``.

    ``overlap`` is a fraction of a tile's side. A single column/row spans the whole side.
    """
    xs = _spans(width, cols, overlap)
    ys = _spans(height, rows, overlap)
    return [Tile(x0, y0, x1, y1) for (y0, y1) in ys for (x0, x1) in xs]


def _spans(length: int, count: int, overlap: float) -> list[tuple[int, int]]:
    if count <= 1:
        return [(0, length)]
    # count * side - (count - 1) * overlap * side = length
    side = length / (count - (count - 1) * overlap)
    step = side * (1 - overlap)
    spans = []
    for i in range(count):
        start = round(i * step)
        end = length if i == count - 1 else min(length, round(i * step + side))
        spans.append((start, end))
    return spans


def detect_in_tiles(detector: FaceDetector, image: np.ndarray, tiles: Sequence[Tile]) -> list[Box]:
    """Detections from every tile, in frame coordinates (not merged)."""
    found: list[Box] = []
    for tile in tiles:
        crop = image[tile.y0 : tile.y1, tile.x0 : tile.x1]
        if crop.size == 0:
            continue
        for box in detector.detect(crop):
            found.append(Box(box.x + tile.x0, box.y + tile.y0, box.w, box.h, box.score))
    return found


class TiledDetector:
    """A :class:`~privacy.vision.boxes.FaceDetector` that runs ``detector`` on the whole frame and on a tile grid."""

    def __init__(
        self, detector: FaceDetector, cols: int, rows: int, overlap: float = 0.25, whole_frame: bool = True
    ) -> None:
        self.detector = detector
        self.cols = cols
        self.rows = rows
        self.overlap = overlap
        self.whole_frame = whole_frame

    def detect(self, image: np.ndarray) -> list[Box]:
        h, w = image.shape[:2]
        boxes = self.detector.detect(image) if self.whole_frame else []
        boxes += detect_in_tiles(self.detector, image, tile_grid(w, h, self.cols, self.rows, self.overlap))
        return merge(boxes)
