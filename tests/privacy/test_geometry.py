"""Pure geometry: tiles, merging, tracking and masks."""

from __future__ import annotations

import numpy as np
import pytest

from privacy.vision.box_merge import merge, nms, sure_boxes
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
    (seen,) = unseen_bands(pan_left, 640, 480, frames=0, margin=30)  # seen, but a face there may still be cut
    assert seen.x + seen.w == pytest.approx(640) and seen.w == pytest.approx(30)
    shake = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    assert unseen_bands(shake, 640, 480, frames=1) == []
    zoom_out = np.array([[0.9, 0.0, 32.0], [0.0, 0.9, 24.0]])
    assert len(unseen_bands(zoom_out, 640, 480, frames=1)) == 4


def test_the_strip_for_entering_faces_is_as_wide_as_the_scenes_faces() -> None:
    from privacy.vision.tracking import ENTRY_CAP_SHARE, entering_face_width

    config = TrackingConfig(mask_scale=1.7)
    assert entering_face_width([], 640, config) == 8.0  # no face held: no scale to go by
    crowd = [Box(0, 0, 20, 24), Box(50, 0, 24, 30), Box(100, 0, 30, 30), Box(200, 0, 400, 400)]
    # The median face (24 wide, 30 tall: face-shaped 24 wide) masked at 1.7; one close-up does not move it.
    assert entering_face_width(crowd, 640, config) == pytest.approx(1.7 * 27)
    assert entering_face_width([Box(0, 0, 300, 300)], 640, config) == pytest.approx(ENTRY_CAP_SHARE * 640)


def test_a_large_unconfirmed_track_gets_a_tight_mask_without_the_edge_stretch() -> None:
    config = TrackingConfig(mask_scale=1.7, unconfirmed_scale=1.3, large_share=0.25, edge_reach=0.25, margin_share=0)
    box = Box(10, 100, 200, 200)  # a third of a 640 x 480 frame, 10 px from the left edge
    (doubtful,) = masks([Track(box, 0.0, confirmed=False)], 0.0, config, 640, 480)
    (sure,) = masks([Track(box, 0.0, confirmed=True)], 0.0, config, 640, 480)
    assert doubtful.w == pytest.approx(260) and doubtful.x == pytest.approx(-20)
    assert sure.x == pytest.approx(-60) and sure.w == pytest.approx(340)
    small = Box(10, 100, 60, 60)  # small boxes are cheap to mask: confirmed or not, they get the full margin
    (unsure_small,) = masks([Track(small, 0.0, confirmed=False)], 0.0, config, 640, 480)
    assert unsure_small.w == pytest.approx(102)


def test_a_mask_is_stretched_only_to_an_edge_its_face_reaches() -> None:
    config = TrackingConfig(mask_scale=1.0, edge_reach=0.25, growth_per_s=0.0, margin_share=0)
    near = Track(Box(8, 200, 80, 80), 0.0)  # 8 px from the left edge: a face cut or about to be
    far = Track(Box(60, 200, 80, 80), 0.0)  # 60 px away: nothing of it is at the edge
    (stretched,) = masks([near], 0.0, config, 640, 480)
    (kept,) = masks([far], 0.0, config, 640, 480)
    assert stretched.x == 0 and stretched.x + stretched.w == pytest.approx(88)
    assert kept.x == pytest.approx(60) and kept.y == pytest.approx(200)
    # A face 100 px from either edge whose 1.7x mask ends 2 px short of both: no band the height of the frame.
    big = TrackingConfig(mask_scale=1.7, edge_reach=0.25, margin_share=0)
    (mask,) = masks([Track(Box(200, 100, 240, 280), 0.0)], 0.0, big, 640, 480)
    assert mask.y == pytest.approx(2) and mask.y + mask.h == pytest.approx(478)


def test_growth_while_held_is_capped_for_large_boxes() -> None:
    config = TrackingConfig(mask_scale=1.5, growth_per_s=1.0, max_growth=0.5, growth_side_share=0.25)
    small, large = Track(Box(100, 100, 40, 40), 0.0), Track(Box(100, 100, 300, 300), 0.0)
    fresh_small, fresh_large = masks([small, large], 0.0, config, 1280, 960)
    old_small, old_large = masks([small, large], 5.0, config, 1280, 960)
    assert old_small.w - fresh_small.w == pytest.approx(20)  # half the side of a small box
    assert old_large.w - fresh_large.w == pytest.approx(120)  # half of a quarter of the frame, not of 300 px


def test_sure_boxes_take_high_scores_and_boxes_both_families_report() -> None:
    fast = [Box(100, 100, 80, 80, 0.5), Box(400, 100, 80, 80, 0.9), Box(300, 300, 200, 200, 0.6)]
    strong = [Box(104, 98, 76, 84, 0.2), Box(20, 300, 60, 60, 0.3), Box(200, 20, 50, 50, 0.7)]
    sure = sure_boxes(fast, strong, fast_sure=0.8, strong_sure=0.4)
    assert set(sure) == {fast[0], fast[1], strong[0], strong[2]}
    assert sure_boxes(fast[:1], [], 0.8, 0.4) == []


def test_a_track_is_confirmed_by_a_sure_detection_and_stays_so() -> None:
    config = TrackingConfig(hold_s=1.0, hold_single_s=0.5, large_share=0.25)
    false = Box(100, 50, 300, 300, 0.5)
    tracks = associate([], [false], 0.0, config, sure=[], frame_size=(640, 480))
    assert [t.confirmed for t in tracks] == [False]
    tracks = associate(tracks, [Box(104, 52, 300, 300, 0.5)], 0.1, config, sure=[], frame_size=(640, 480))
    assert tracks[0].hits == 2 and not tracks[0].confirmed
    # Unconfirmed and large: held like a one-off, not for the full hold time.
    assert associate(tracks, [], 0.55, config, sure=[], frame_size=(640, 480)) != []
    assert associate(tracks, [], 0.65, config, sure=[], frame_size=(640, 480)) == []
    real = Box(110, 55, 300, 300, 0.95)
    tracks = associate(tracks, [real], 0.2, config, sure=[real], frame_size=(640, 480))
    assert tracks[0].confirmed
    tracks = associate(tracks, [Box(112, 55, 300, 300, 0.5)], 0.3, config, sure=[], frame_size=(640, 480))
    assert tracks[0].confirmed and tracks[0].hits == 4
    assert associate(tracks, [], 1.25, config, sure=[], frame_size=(640, 480)) != []
    # Without ``sure`` (a single detector, as in the fakes) every detection confirms.
    assert associate([], [false], 0.0, config)[0].confirmed
