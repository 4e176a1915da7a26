"""Heads that no face detector finds: a person mask, and the head taken from the top of each silhouette.

Face detectors need a face: the back of a head, a profile, a face behind a hand or a microphone, or a head cut
by the frame edge is missed by all of them at once, and tracking only helps when the face was seen before.
A person-segmentation network (mediapipe's selfie segmentation, landscape variant, 256x144 input) does not
need a face: it outlines the person, seen from any side. In a call the person's silhouette is a head on
shoulders, so the head is the top part of each silhouette: as wide as the widest row above the shoulders and
about 1.3 times as tall as wide. Those boxes are masked like faces (see :mod:`privacy.vision.anonymizer`).

The segmentation network is trained for people near the camera (a video call); it does not see faces in a
crowd, which the face detectors handle. :func:`heads_from_mask` is pure and tested on drawn silhouettes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from privacy.vision.boxes import Box
from privacy.vision.errors import ModelUnusable
from privacy.vision.models import SELFIE_SEGMENTATION, read_model
from privacy.vision.native_close import ClosedWhenCollected
from privacy.vision.tflite_metadata import with_image_metadata


@dataclass(frozen=True, slots=True)
class HeadCueConfig:
    """How heads are taken from the person mask."""

    threshold: float = 0.5
    """A mask cell with at least this person confidence belongs to a person."""
    min_area: float = 0.004
    """Silhouettes smaller than this share of the frame are ignored (noise)."""
    aspect: float = 1.3
    """A head is about this many times as tall as wide (hair and chin included)."""
    widest: float = 0.8
    """A head's width is measured down to this many times its width from the top (its widest part)."""
    shoulders: float = 1.7
    """A row wider than this many times the head's width so far is taken as the shoulders (the head ends)."""
    max_width: float = 0.7
    """A "head" wider than this share of the frame is a mis-segmentation, not a head (not masked as one)."""
    min_side: float = 0.07
    """A "head" narrower or shorter than this share of the frame width is a fringe of the mask (not a head;
    smaller faces are the face detectors' work). 0.1 (64 px at 640) passed over the heads of a backlit group
    of children, 45-60 px wide, that no face detector saw; 0.07 found them, and masked less of the clips, not
    more (bench/privacy_bench.py hard clips)."""


def heads_from_mask(person: np.ndarray, width: int, height: int, config: HeadCueConfig | None = None) -> list[Box]:
    """Head boxes in a ``width`` x ``height`` frame from a person-confidence mask of any size.

    Within each silhouette (a connected part of the mask) the highest point not yet explained starts a
    candidate: rows are read downwards following the run of person cells under it; the head's width is the
    widest run so far, and it ends where it is ``aspect`` times as tall as wide or where the run jumps much
    wider (the shoulders). A candidate counts as a head when it stands out of the silhouette (the outline
    beside it lies lower: a head on shoulders, or a raised hand, which is masked too, harmlessly) and does not
    overlap a head already found (a shoulder beside the head). A head cut by the frame edge is returned as its
    visible part.
    """
    cfg = config or HeadCueConfig()
    if person.ndim == 3:
        person = person[:, :, 0]
    mh, mw = person.shape[:2]
    if mh == 0 or mw == 0 or width <= 0 or height <= 0:
        return []
    # Opening removes one-cell fringes (hair strands, noise) that would otherwise start tiny "heads".
    binary = cv2.morphologyEx((person >= cfg.threshold).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    sx, sy = width / mw, height / mh
    heads: list[Box] = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < cfg.min_area * mw * mh:
            continue
        part = labels[y : y + h, x : x + w] == label
        edges = (x == 0, x + w == mw)
        for a, b, top, bottom in _silhouette_heads(part, sx, sy, cfg, edges, width):
            heads.append(Box((x + a) * sx, (y + top) * sy, (b - a + 1) * sx, (bottom - top + 1) * sy, 1.0))
    return heads


_MAX_HEADS_PER_SILHOUETTE = 8
"""A group of people standing close together is one silhouette; this many heads are looked for in it."""
_MAX_CANDIDATES_PER_SILHOUETTE = 32
"""Raised hands, hair and fringes of the mask start candidates too; the search stops after this many."""


def _silhouette_heads(
    part: np.ndarray, sx: float, sy: float, cfg: HeadCueConfig, edges: tuple[bool, bool], width: int
) -> list[tuple[int, int, int, int]]:
    """Heads in one silhouette as (first column, last column, top row, bottom row) of its mask crop.

    ``edges`` says whether the crop's first and last columns are the frame's left and right edges; ``width``
    is the frame's width in pixels (the limits on a head's size are shares of it). A candidate of a size no
    head has (a fingertip, a strand of hair, a bun on top of a head) is passed over without counting: it must
    neither use up the search nor hide the head under it.
    """
    h, w = part.shape
    has = part.any(axis=0)
    outline = np.where(has, part.argmax(axis=0), h)  # the first person row of each column (h: none)
    open_cols: np.ndarray = np.array(has, dtype=bool)
    smallest, widest = cfg.min_side * width, cfg.max_width * width
    found: list[tuple[int, int, int, int]] = []
    for _ in range(_MAX_CANDIDATES_PER_SILHOUETTE):
        if not open_cols.any() or len(found) >= _MAX_HEADS_PER_SILHOUETTE:
            break
        c0 = int(np.argmin(np.where(open_cols, outline, h + 1)))
        top = int(outline[c0])
        a, b, bottom = _follow_down(part, c0, top, sx, sy, cfg, edges)
        open_cols[a : b + 1] = False
        if not (smallest <= (b - a + 1) * sx <= widest and (bottom - top + 1) * sy >= smallest):
            continue
        half = top + (bottom - top) / 2
        left_low = a == 0 or outline[a - 1] >= half
        right_low = b == w - 1 or outline[b + 1] >= half
        # Sharing columns with a head found higher up makes it that head's shoulder, or the body under it.
        overlaps = any(min(b, fb) - max(a, fa) + 1 > 0.3 * min(b - a, fb - fa) for fa, fb, _, _ in found)
        if left_low and right_low and not overlaps:
            found.append((a, b, top, bottom))
    return found


def _follow_down(
    part: np.ndarray, c0: int, top: int, sx: float, sy: float, cfg: HeadCueConfig, edges: tuple[bool, bool]
) -> tuple[int, int, int]:
    """Columns (first, last) and bottom row of the head whose top is at (``top``, ``c0``).

    A head cut by the left or right frame edge shows only part of its width, so its height is allowed to
    reach ``aspect`` times twice the visible width.
    """
    last_col = part.shape[1] - 1
    lo, hi = c0, c0
    first, last, bottom = c0, c0, top
    head_w = 0.0
    for r in range(top, part.shape[0]):
        row = part[r]
        if not row[lo : hi + 1].any():
            break
        # The run of person cells in this row that overlaps the previous row's run.
        start = lo + int(np.argmax(row[lo : hi + 1]))
        left = start
        while left > 0 and row[left - 1]:
            left -= 1
        right = start
        while right + 1 < row.shape[0] and row[right + 1]:
            right += 1
        run_w = (right - left + 1) * sx
        tall = (r - top + 1) * sy
        cut = (edges[0] and first == 0) or (edges[1] and last == last_col)
        if head_w > 0 and (
            tall > cfg.aspect * head_w * (2.0 if cut else 1.0)
            or (run_w > cfg.shoulders * head_w and tall > 0.5 * head_w)
        ):
            break
        lo, hi = left, right
        bottom = r
        # A head is widest above its middle; below that the rows widen only into neck, collar and shoulders,
        # so the width (and the columns) are taken from the upper part only.
        if head_w == 0 or tall <= cfg.widest * head_w:
            head_w = max(head_w, run_w)
            first, last = min(first, left), max(last, right)
    return first, last, bottom


def _create(model: bytes) -> Any:
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import ImageSegmenter, ImageSegmenterOptions

    options = ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_buffer=model),
        output_confidence_masks=True,
        output_category_mask=False,
    )
    return ImageSegmenter.create_from_options(options)


INPUT_SIZE = (256, 144)
"""The landscape model's input (width, height); frames are scaled to it here (cheaper than inside mediapipe)."""


class PersonSegmenter:
    """Person confidence per cell through mediapipe's Tasks ``ImageSegmenter``; one graph, calls serialised.

    The model from the 0.10.14 wheel has no TFLite metadata; the Tasks API needs its input normalisation
    (the selfie model takes RGB in [0, 1]), which is added in memory. A missing or unreadable model raises at
    construction (start-up), never later.
    """

    def __init__(self, model: bytes | None = None) -> None:
        raw = read_model(SELFIE_SEGMENTATION) if model is None else model
        try:
            prepared = with_image_metadata(raw, "selfie_segmentation", mean=0.0, std=255.0, outputs=("segmentation",))
            self._task = _create(prepared)
        except Exception as error:  # a truncated or foreign file fails in the flatbuffer parser or in mediapipe
            raise ModelUnusable(f"{SELFIE_SEGMENTATION} could not be loaded ({type(error).__name__})") from error
        self._lock = threading.Lock()
        self._closing = ClosedWhenCollected(self, self._task.close, self._lock)

    def person_mask(self, image: np.ndarray) -> np.ndarray:
        """A 144 x 256 float mask of person confidence for a BGR ``image`` of any size."""
        import mediapipe as mp

        small = cv2.resize(image, INPUT_SIZE, interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        with self._lock:
            result = self._task.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        mask = np.asarray(result.confidence_masks[0].numpy_view(), dtype=np.float32)
        return mask.reshape(mask.shape[0], mask.shape[1])

    def close(self) -> None:
        """Release the native graph (also done when the object is collected)."""
        self._closing.close()


class HeadDetector:
    """A :class:`~privacy.vision.boxes.FaceDetector` that returns heads from the person mask (see module doc)."""

    def __init__(self, segmenter: PersonSegmenter | None = None, config: HeadCueConfig | None = None) -> None:
        self.segmenter = segmenter or PersonSegmenter()
        self.config = config or HeadCueConfig()

    def detect(self, image: np.ndarray) -> list[Box]:
        height, width = image.shape[:2]
        return heads_from_mask(self.segmenter.person_mask(image), width, height, self.config)
