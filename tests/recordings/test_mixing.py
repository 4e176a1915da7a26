"""The pure media functions behind the recorder: grid, letterbox, compositing, audio mix and buffer."""

from __future__ import annotations

import numpy as np
import pytest

from recordings.mixing import AudioBuffer, Planes, Rect, blank, compose, fit, grid, mix


@pytest.mark.parametrize(("count", "cols", "rows"), [(1, 1, 1), (2, 2, 1), (3, 2, 2), (4, 2, 2), (5, 3, 2), (6, 3, 2)])
def test_grid_is_near_square_and_inside_the_picture(count: int, cols: int, rows: int) -> None:
    tiles = grid(count, 640, 480)
    assert len(tiles) == count
    assert {t.w for t in tiles} == {640 // cols // 2 * 2}
    assert {t.h for t in tiles} == {480 // rows // 2 * 2}
    for tile in tiles:
        assert tile.x % 2 == tile.y % 2 == tile.w % 2 == tile.h % 2 == 0
        assert tile.x + tile.w <= 640 and tile.y + tile.h <= 480
    assert grid(0, 640, 480) == []


def test_fit_letterboxes_keeping_the_aspect_ratio() -> None:
    box = fit(640, 480, Rect(320, 0, 320, 480))
    assert (box.w, box.h) == (320, 240)
    assert box.x == 320 and box.y == 120
    tall = fit(240, 480, Rect(0, 0, 640, 480))
    assert (tall.w, tall.h) == (240, 480) and tall.x == 200


def solid(y: int, u: int, v: int, width: int = 320, height: int = 240) -> Planes:
    return Planes(
        np.full((height, width), y, np.uint8),
        np.full((height // 2, width // 2), u, np.uint8),
        np.full((height // 2, width // 2), v, np.uint8),
    )


def test_compose_puts_each_picture_in_its_tile_and_leaves_the_rest_blank() -> None:
    red, blue = solid(81, 90, 240), solid(41, 240, 110)
    canvas = compose([red, None, blue], 640, 480)
    assert canvas.width == 640 and canvas.height == 480
    assert canvas.y[60, 60] == 81 and canvas.v[30, 30] == 240  # top-left tile
    assert canvas.y[60, 400] == blank(2, 2).y[0, 0]  # the empty slot
    assert canvas.y[300, 60] == 41 and canvas.u[150, 30] == 240  # bottom-left tile
    assert canvas.y[300, 400] == blank(2, 2).y[0, 0]  # no fourth participant


def test_packed_round_trip_matches_pyav_layout() -> None:
    picture = Planes(
        np.arange(16 * 8, dtype=np.uint8).reshape(8, 16),
        np.full((4, 8), 7, np.uint8),
        np.full((4, 8), 9, np.uint8),
    )
    packed = picture.packed()
    assert packed.shape == (12, 16)
    again = Planes.from_packed(packed, 16, 8)
    assert np.array_equal(again.y, picture.y) and np.array_equal(again.v, picture.v)


def test_mix_sums_and_clips() -> None:
    a = np.full((4, 2), 20000, np.int16)
    b = np.full((4, 2), 20000, np.int16)
    c = np.full((4, 2), -5, np.int16)
    assert mix([a, b], 4).max() == 32767
    assert mix([a, c], 4)[0, 0] == 19995
    assert not mix([], 3).any() and mix([], 3).shape == (3, 2)


def test_audio_buffer_is_bounded_and_keeps_the_newest_audio() -> None:
    buffer = AudioBuffer(max_samples=100)
    for value in range(1, 6):
        buffer.push(np.full((40, 2), value, np.int16))
    assert len(buffer) == 100
    assert buffer.dropped == 100
    out = buffer.pull(120)
    assert out[0, 0] == 3 and out[99, 0] == 5  # the oldest 100 samples were dropped
    assert not out[100:].any()  # then silence
    assert len(buffer) == 0
