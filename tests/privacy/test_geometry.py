"""Pure geometry: tiles, merging, tracking and masks."""

from __future__ import annotations

import numpy as np
import pytest

from privacy.vision.box_merge import merge, nms
from privacy.vision.boxes import Box
from privacy.vision.detector_stack import tiles_for_frame
from privacy.vision.motion import Motion
from privacy.vision.tiling import tile_grid
from privacy.vision.tracking import Track, TrackingConfig, advance, associate, masks


def test_tiles_cover_the_frame_and_overlap() -> None:
    tiles = tile_grid(640, 480, 3, 2, overlap=0.3)
    assert len(tiles) == 6
    covered = np.zeros((480, 640), dtype=bool)
    for t in tiles:
        covered[t.y0 : t.y1, t.x0 : t.x1] = True
    assert covered.all()
    first, second = tiles[0], tiles[1]
    assert first.x1 - second.x0 > 0.25 * (first.x1 - first.x0)


def test_tile_rotation_visits_every_tile() -> None:
    seen = set()
    for frame in range(3):
        seen.update(tiles_for_frame(6, 2, frame))
    assert seen == set(range(6))
    assert tiles_for_frame(6, 10, 0) == list(range(6))
    assert tiles_for_frame(6, 0, 0) == []


def test_merge_fuses_duplicates_into_their_union() -> None:
    a = Box(100, 100, 50, 50, 0.9)
    b = Box(104, 102, 50, 50, 0.4)
    far = Box(400, 100, 50, 50, 0.3)
    fused = merge([a, b, far])
    assert len(fused) == 2
    big = max(fused, key=lambda x: x.w)
    assert (big.x, big.y, big.x + big.w, big.y + big.h) == (100, 100, 154, 152)
    assert nms([a, b, far], 0.3) == [a, far]


def test_a_small_face_inside_a_large_box_keeps_its_own_box() -> None:
    large = Box(0, 0, 400, 400, 0.3)
    small = Box(100, 100, 30, 30, 0.9)
    assert len(merge([large, small])) == 1  # merged for detection output...
    config = TrackingConfig()
    tracks = associate([Track(large, 0.0)], [small], 0.0, config)
    assert len(tracks) == 2  # ...but as tracks they are kept apart


def test_tracks_are_held_then_dropped() -> None:
    config = TrackingConfig(hold_s=1.0, hold_single_s=0.5)
    tracks = associate([], [Box(10, 10, 40, 40)], 0.0, config)
    tracks = associate(tracks, [Box(11, 10, 40, 40)], 0.1, config)  # confirmed by a second detection
    tracks = associate(tracks, [], 1.0, config)
    assert len(tracks) == 1
    assert associate(tracks, [], 1.2, config) == []


def test_a_one_off_box_is_held_for_less_time() -> None:
    config = TrackingConfig(hold_s=1.0, hold_single_s=0.5)
    tracks = associate([], [Box(10, 10, 40, 40)], 0.0, config)
    assert len(associate(tracks, [], 0.4, config)) == 1
    assert associate(tracks, [], 0.6, config) == []


def test_a_detection_refreshes_its_track() -> None:
    config = TrackingConfig()
    tracks = associate([], [Box(10, 10, 40, 40)], 0.0, config)
    tracks = associate(tracks, [Box(14, 12, 40, 40)], 0.5, config)
    assert len(tracks) == 1
    assert tracks[0].hits == 2 and tracks[0].last_seen == 0.5


def test_masks_grow_while_a_track_is_unconfirmed() -> None:
    config = TrackingConfig(mask_scale=1.5, growth_per_s=1.0, max_growth=0.5)
    track = Track(Box(100, 100, 40, 40), last_seen=0.0)
    (fresh,) = masks([track], 0.0, config)
    (held,) = masks([track], 0.25, config)
    (old,) = masks([track], 5.0, config)
    assert fresh.w == pytest.approx(60) and held.w == pytest.approx(70) and old.w == pytest.approx(80)
    assert (fresh.cx, fresh.cy) == (track.box.cx, track.box.cy)


def test_tracks_follow_the_motion() -> None:
    before = np.array([[x, y] for x in range(100, 150, 10) for y in range(100, 150, 10)], dtype=np.float64)
    after = before + np.array([12.0, -5.0])
    camera = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    moved = advance([Track(Box(100, 100, 50, 50), 0.0)], Motion(before, after, camera))
    assert (moved[0].box.x, moved[0].box.y) == pytest.approx((112, 95))


def test_a_pan_masks_the_strip_of_new_content_until_checked() -> None:
    from privacy.vision.motion import unseen_bands

    pan_left = np.array([[1.0, 0.0, -20.0], [0.0, 1.0, 0.0]])  # content moves left: new content on the right
    (band,) = unseen_bands(pan_left, 640, 480, frames=1)
    assert band.x + band.w == pytest.approx(640) and band.w == pytest.approx(28) and band.h == 480
    assert unseen_bands(pan_left, 640, 480, frames=0) == []
    shake = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    assert unseen_bands(shake, 640, 480, frames=1) == []
    zoom_out = np.array([[0.9, 0.0, 32.0], [0.0, 0.9, 24.0]])
    assert len(unseen_bands(zoom_out, 640, 480, frames=1)) == 4
