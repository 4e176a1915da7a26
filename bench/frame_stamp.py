"""A frame counter drawn into the pixels, coarse enough to survive whole-frame pixelation and VP8.

The privacy placeholder reduces every frame to a 16x12 grid of flat blocks (40x40 pixels at 640x480), so the
stamp uses exactly those cells: the bottom row carries 16 bits (sender id and frame counter, most significant
bit first), the row above carries their complement. A cell is read from its centre only (codec ringing sits at
the edges) and must be clearly black or clearly white; a frame passes only when every cell and its complement
disagree. A flat card (the fail-closed grey, the pause card) or a frame without a stamp therefore reads as
``None``, never as a wrong counter. A face anonymizer that leaves the background alone keeps the stamp as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID_COLUMNS = 16
GRID_ROWS = 12
SENDER_BITS = 3
COUNTER_BITS = GRID_COLUMNS - SENDER_BITS
MAX_SENDERS = 1 << SENDER_BITS
COUNTER_MODULO = 1 << COUNTER_BITS
"""8192 frames: about nine minutes at 15 fps before a counter comes round again."""
STAMP_ROWS = 2
BLACK, WHITE = 0, 255
DARK_BELOW, LIGHT_ABOVE = 80, 176
"""Cell means between these two are neither black nor white: the frame is not read."""


@dataclass(frozen=True, slots=True)
class Stamp:
    sender: int
    counter: int

    def __post_init__(self) -> None:
        if not 0 <= self.sender < MAX_SENDERS:
            raise ValueError(f"sender must be in 0..{MAX_SENDERS - 1}")
        if not 0 <= self.counter < COUNTER_MODULO:
            raise ValueError(f"counter must be in 0..{COUNTER_MODULO - 1}")

    @property
    def value(self) -> int:
        return (self.sender << COUNTER_BITS) | self.counter

    @classmethod
    def from_value(cls, value: int) -> Stamp:
        return cls(sender=value >> COUNTER_BITS, counter=value & (COUNTER_MODULO - 1))


def _bits(value: int) -> list[int]:
    return [(value >> (GRID_COLUMNS - 1 - i)) & 1 for i in range(GRID_COLUMNS)]


def _cell(height: int, width: int, row: int, column: int, central: bool = False) -> tuple[slice, slice]:
    ch, cw = height // GRID_ROWS, width // GRID_COLUMNS
    my, mx = (ch // 4, cw // 4) if central else (0, 0)
    return (
        slice(row * ch + my, (row + 1) * ch - my),
        slice(column * cw + mx, (column + 1) * cw - mx),
    )


def stamp_band(height: int) -> slice:
    """The picture rows the stamp covers (the bottom two grid rows)."""
    ch = height // GRID_ROWS
    return slice((GRID_ROWS - STAMP_ROWS) * ch, GRID_ROWS * ch)


def stamped(image: np.ndarray, stamp: Stamp, picture_height: int | None = None) -> np.ndarray:
    """A copy of ``image`` with ``stamp`` drawn into its bottom two grid rows.

    ``image`` is a BGR picture, a luma plane, or PyAV's yuv420p array (luma rows first, then chroma); for the
    last pass the picture height, so that only luma is drawn. The chroma under the stamp is left as it is:
    callers that want pure black and white keep it neutral (128).
    """
    out = image.copy()
    height = picture_height if picture_height is not None else image.shape[0]
    width = image.shape[1]
    for column, bit in enumerate(_bits(stamp.value)):
        out[_cell(height, width, GRID_ROWS - 1, column)] = WHITE if bit else BLACK
        out[_cell(height, width, GRID_ROWS - 2, column)] = BLACK if bit else WHITE
    return out


def _cell_mean(image: np.ndarray, height: int, row: int, column: int) -> float:
    # The central half of the cell: VP8 rings along block edges that do not fall on its own 16-pixel grid.
    return float(image[_cell(height, image.shape[1], row, column, central=True)].mean())


def read_stamp(image: np.ndarray, picture_height: int | None = None) -> Stamp | None:
    """The stamp in ``image`` (BGR, luma, or yuv420p with ``picture_height``), or None if there is none."""
    height = picture_height if picture_height is not None else image.shape[0]
    if height < GRID_ROWS * 4 or image.shape[1] < GRID_COLUMNS * 4:
        return None
    value = 0
    for column in range(GRID_COLUMNS):
        data = _cell_mean(image, height, GRID_ROWS - 1, column)
        guard = _cell_mean(image, height, GRID_ROWS - 2, column)
        if data >= LIGHT_ABOVE and guard <= DARK_BELOW:
            bit = 1
        elif data <= DARK_BELOW and guard >= LIGHT_ABOVE:
            bit = 0
        else:
            return None
        value = (value << 1) | bit
    return Stamp.from_value(value)
