"""Pure media functions for the recorder: the grid composite of participants' video and the audio mix.

Video is handled as yuv420p planes (Y full size, U and V half size each way) so that no colour conversion runs
on the recording path. Audio is 48 kHz stereo int16 as ``(samples, 2)`` arrays. The only I/O-like step, scaling a
tile, uses PyAV's scaler on a frame the recorder owns (never on a frame other consumers share).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np

SAMPLE_RATE = 48_000
CHANNELS = 2
BACKGROUND_YUV = (24, 128, 128)
"""A dark neutral grey behind letterboxed tiles and empty slots."""


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Planes:
    """One yuv420p picture as three planes; width and height are even."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    @classmethod
    def from_packed(cls, packed: np.ndarray, width: int, height: int) -> Planes:
        """From PyAV's yuv420p ``to_ndarray()`` layout (all three planes one after another)."""
        flat = packed.reshape(-1)
        luma, chroma = width * height, (width // 2) * (height // 2)
        return cls(
            flat[:luma].reshape(height, width),
            flat[luma : luma + chroma].reshape(height // 2, width // 2),
            flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
        )

    def packed(self) -> np.ndarray:
        """PyAV's ``from_ndarray(..., format="yuv420p")`` layout: shape (height * 3 // 2, width)."""
        flat = np.concatenate([self.y.reshape(-1), self.u.reshape(-1), self.v.reshape(-1)])
        return flat.reshape(self.height * 3 // 2, self.width)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def grid(count: int, width: int, height: int) -> list[Rect]:
    """``count`` tiles filling ``width`` x ``height`` in a near-square grid, row by row, even-aligned."""
    if count <= 0:
        return []
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    tile_w, tile_h = _even(width / cols), _even(height / rows)
    return [Rect((i % cols) * tile_w, (i // cols) * tile_h, tile_w, tile_h) for i in range(count)]


def fit(src_w: int, src_h: int, tile: Rect) -> Rect:
    """The largest rectangle with the source's aspect ratio centred in ``tile`` (letterbox), even-aligned."""
    scale = min(tile.w / src_w, tile.h / src_h)
    w, h = min(tile.w, _even(src_w * scale)), min(tile.h, _even(src_h * scale))
    return Rect(tile.x + (tile.w - w) // 4 * 2, tile.y + (tile.h - h) // 4 * 2, w, h)


def blank(width: int, height: int) -> Planes:
    y, u, v = BACKGROUND_YUV
    return Planes(
        np.full((height, width), y, np.uint8),
        np.full((height // 2, width // 2), u, np.uint8),
        np.full((height // 2, width // 2), v, np.uint8),
    )


def scale(picture: Planes, width: int, height: int) -> Planes:
    if picture.width == width and picture.height == height:
        return picture
    frame = av.VideoFrame.from_ndarray(picture.packed(), format="yuv420p")
    scaled = frame.reformat(width=width, height=height, format="yuv420p")
    return Planes.from_packed(scaled.to_ndarray(), width, height)


def compose(pictures: Sequence[Planes | None], width: int, height: int) -> Planes:
    """One picture with every input letterboxed into its grid tile; None leaves its tile blank."""
    canvas = blank(width, height)
    for picture, tile in zip(pictures, grid(len(pictures), width, height), strict=True):
        if picture is None:
            continue
        box = fit(picture.width, picture.height, tile)
        tile_picture = scale(picture, box.w, box.h)
        canvas.y[box.y : box.y + box.h, box.x : box.x + box.w] = tile_picture.y
        cy, cx, ch, cw = box.y // 2, box.x // 2, box.h // 2, box.w // 2
        canvas.u[cy : cy + ch, cx : cx + cw] = tile_picture.u
        canvas.v[cy : cy + ch, cx : cx + cw] = tile_picture.v
    return canvas


def mix(blocks: Sequence[np.ndarray], samples: int) -> np.ndarray:
    """The sum of equally long int16 stereo blocks, clipped; silence when there are none."""
    total = np.zeros((samples, CHANNELS), np.int32)
    for block in blocks:
        total += block
    return np.clip(total, -32768, 32767).astype(np.int16)


class AudioBuffer:
    """A bounded FIFO of stereo samples for one participant: newest audio wins when it overflows."""

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self._blocks: collections.deque[np.ndarray] = collections.deque()
        self._count = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self._count

    def push(self, block: np.ndarray) -> None:
        self._blocks.append(block)
        self._count += len(block)
        while self._count > self.max_samples:
            excess = self._count - self.max_samples
            oldest = self._blocks[0]
            if len(oldest) <= excess:
                self._blocks.popleft()
                self._count -= len(oldest)
                self.dropped += len(oldest)
            else:
                self._blocks[0] = oldest[excess:]
                self._count -= excess
                self.dropped += excess

    def pull(self, samples: int) -> np.ndarray:
        """Exactly ``samples`` samples: the oldest buffered ones, then silence."""
        out = np.zeros((samples, CHANNELS), np.int16)
        filled = 0
        while filled < samples and self._blocks:
            block = self._blocks[0]
            take = min(samples - filled, len(block))
            out[filled : filled + take] = block[:take]
            filled += take
            self._count -= take
            if take == len(block):
                self._blocks.popleft()
            else:
                self._blocks[0] = block[take:]
        return out

    def clear(self) -> None:
        self._blocks.clear()
        self._count = 0
