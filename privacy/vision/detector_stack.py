"""The real detectors, assembled: cheap BlazeFace passes every frame and CenterFace when scheduled.

Recall comes from combining (DESIGN.md): whole-frame short- and full-range BlazeFace for near faces, rotating
tiles for small ones, CenterFace for turned, occluded and dark faces. BlazeFace graphs are not safe to call
concurrently, so each worker thread gets its own set (several participants are processed in parallel);
the CenterFace session is shared (onnxruntime sessions may run concurrently).
"""

from __future__ import annotations

import threading

import numpy as np

from privacy.vision.blazeface import BlazeFaceConfig, BlazeFaceDetector, BlazeFaceModel
from privacy.vision.boxes import Box, FaceDetector
from privacy.vision.centerface import (
    CenterFaceConfig,
    CenterFaceDetector,
    detect_in_grey,
    detect_upright,
    detect_upside_down,
)
from privacy.vision.options import AnonymizerOptions
from privacy.vision.tiling import detect_in_tiles, tile_grid


def tiles_for_frame(total: int, per_frame: int, frame_index: int) -> list[int]:
    """Which of ``total`` tiles run on frame ``frame_index`` when ``per_frame`` run each frame, in rotation."""
    if total <= 0 or per_frame <= 0:
        return []
    if per_frame >= total:
        return list(range(total))
    start = (frame_index * per_frame) % total
    return [(start + i) % total for i in range(per_frame)]


class _ThreadLocalBlazeFace(threading.local):
    detectors: dict[BlazeFaceModel, BlazeFaceDetector]

    def __init__(self) -> None:
        self.detectors = {}


class FastDetectors:
    """BlazeFace on the whole frame plus a rotating subset of tiles; one graph per model and thread."""

    def __init__(self, options: AnonymizerOptions) -> None:
        self.options = options
        self._local = _ThreadLocalBlazeFace()
        # Build the calling thread's graphs now, so a missing model fails at start-up, not mid-call.
        self._get(BlazeFaceModel.SHORT_RANGE)

    def _get(self, model: BlazeFaceModel) -> BlazeFaceDetector:
        found = self._local.detectors.get(model)
        if found is None:
            opts = self.options
            lowest = min(opts.fast_min_score, opts.short_min_score, opts.tile_min_score)
            found = BlazeFaceDetector(BlazeFaceConfig(model, min_score=lowest))
            self._local.detectors[model] = found
        return found

    def detect(self, image: np.ndarray, frame_index: int, thorough: bool = False) -> list[Box]:
        """Boxes from the whole-frame passes and this frame's tiles (every tile when ``thorough``)."""
        opts = self.options
        boxes: list[Box] = []
        for model in opts.fast_models:
            floor = opts.short_min_score if model is BlazeFaceModel.SHORT_RANGE else opts.fast_min_score
            boxes += [b for b in self._get(model).detect(image) if b.score >= floor]
        h, w = image.shape[:2]
        grid = tile_grid(w, h, opts.tile_cols, opts.tile_rows, opts.tile_overlap)
        if len(grid) > 1:
            per_frame = len(grid) if thorough else opts.tiles_per_frame
            chosen = [grid[i] for i in tiles_for_frame(len(grid), per_frame, frame_index)]
            tiled = detect_in_tiles(self._get(BlazeFaceModel.SHORT_RANGE), image, chosen)
            boxes += [b for b in tiled if b.score >= opts.tile_min_score]
        return boxes


class StrongDetector:
    """CenterFace at the configured size, optionally also at the frame's own resolution.

    With :attr:`AnonymizerOptions.strong_int8` the everyday passes run the int8 model and a track's first frame
    (:meth:`detect_thorough`) the float one: the first frame has no history to lean on, it is rare, and the int8
    model's grey pass lost a face on a blue-tinted banner that the float model's found.
    """

    def __init__(self, options: AnonymizerOptions, centerface: CenterFaceDetector | None = None) -> None:
        self.options = options
        self._cf = centerface or CenterFaceDetector(
            CenterFaceConfig(threshold=options.strong_threshold, int8=options.strong_int8)
        )
        self._thorough = self._cf
        if centerface is None and options.strong_int8:
            self._thorough = CenterFaceDetector(CenterFaceConfig(threshold=options.strong_threshold))

    def detect(self, image: np.ndarray) -> list[Box]:
        return self.detect_tilted(image, 0.0)[0]

    def detect_tilted(self, image: np.ndarray, tilt: float) -> tuple[list[Box], float | None]:
        """The everyday pass and the scene's tilt it measured; with a ``tilt`` of at least
        :data:`MIN_TILT_DEG`, the pass looks at the picture turned upright instead (see
        :func:`~privacy.vision.centerface.detect_upright`)."""
        opts = self.options
        if abs(tilt) >= MIN_TILT_DEG:
            return detect_upright(self._cf, image, opts.strong_max_side, tilt)
        boxes, measured = self._cf.detect_with_tilt(image, opts.strong_max_side)
        extra = self._extra(
            image, full_res=opts.extra_full_res_strong, upside_down=opts.upside_down_every_pass, cf=self._cf
        )
        return boxes + extra, measured

    def detect_thorough(self, image: np.ndarray) -> list[Box]:
        """CenterFace at the configured size, at the frame's own resolution (up to 640 px), upside down and in
        grey: a track's first frame has no history to lean on."""
        base = self._thorough.detect_scaled(image, self.options.strong_max_side)
        return base + self._extra(image, full_res=True, upside_down=True, grey=True, cf=self._thorough)

    def _extra(
        self,
        image: np.ndarray,
        *,
        full_res: bool,
        upside_down: bool,
        cf: CenterFaceDetector,
        grey: bool = False,
    ) -> list[Box]:
        opts = self.options
        boxes: list[Box] = []
        if full_res and max(image.shape[:2]) > opts.strong_max_side:
            boxes += cf.detect_scaled(image, 640)
        if grey:
            boxes += detect_in_grey(cf, image, opts.strong_max_side, opts.grey_threshold)
        if upside_down:
            boxes += detect_upside_down(cf, image, 640, opts.upside_down_threshold)
        return boxes


MIN_TILT_DEG = 15.0
"""A scene tilted less than this is looked at as it is: CenterFace finds faces within about 15 degrees of upright."""


class SingleDetector:
    """Adapts any :class:`FaceDetector` (e.g. a test fake) to the fast-detector call."""

    def __init__(self, detector: FaceDetector) -> None:
        self.detector = detector

    def detect(self, image: np.ndarray, frame_index: int, thorough: bool = False) -> list[Box]:
        del frame_index, thorough
        return list(self.detector.detect(image))
