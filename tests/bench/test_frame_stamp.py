"""The frame counter survives what the relay does to a frame: 16x12 pixelation and VP8, once or twice."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from aiortc.codecs.vpx import MIN_BITRATE, Vp8Encoder, VpxPayloadDescriptor

from bench.frame_stamp import COUNTER_MODULO, MAX_SENDERS, Stamp, read_stamp, stamped
from bench.relay_media import synthetic_background

W, H = 640, 480
STAMPS = [Stamp(0, 0), Stamp(MAX_SENDERS - 1, COUNTER_MODULO - 1), Stamp(3, 0b1010101010101), Stamp(5, 4321)]


def to_bgr(yuv: np.ndarray) -> np.ndarray:
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p").to_ndarray(format="bgr24")


def to_yuv(bgr: np.ndarray) -> np.ndarray:
    return av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p").to_ndarray()


def pixelate(bgr: np.ndarray) -> np.ndarray:
    """What the fail-closed placeholder does to every frame: 16x12 flat blocks."""
    small = cv2.resize(bgr, (16, 12), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_NEAREST)


def vp8_round_trip(frames_yuv: list[np.ndarray], bitrate: int) -> list[np.ndarray]:
    """Through aiortc's own VP8 encoder (its real-time CBR settings) and libvpx decoding, as on the wire."""
    encoder = Vp8Encoder()
    encoder.target_bitrate = bitrate
    decoder = av.CodecContext.create("libvpx", "r")
    out: list[np.ndarray] = []
    for i, yuv in enumerate(frames_yuv):
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts, frame.time_base = i * 6000, Fraction(1, 90_000)
        payloads, _ts = encoder.encode(frame)
        data = b"".join(VpxPayloadDescriptor.parse(p)[1] for p in payloads)
        for decoded in decoder.decode(av.Packet(data)):
            assert isinstance(decoded, av.VideoFrame)
            out.append(decoded.to_ndarray(format="yuv420p"))
    return out


@pytest.fixture(scope="module")
def background() -> list[np.ndarray]:
    return synthetic_background(W, H, len(STAMPS) * 4)


def test_round_trip_on_bgr_luma_and_yuv(background: list[np.ndarray]) -> None:
    for stamp, yuv in zip(STAMPS, background, strict=False):
        marked = stamped(yuv, stamp, picture_height=H)
        assert read_stamp(marked, picture_height=H) == stamp
        assert read_stamp(marked[:H]) == stamp
        assert read_stamp(to_bgr(marked)) == stamp
        assert read_stamp(stamped(to_bgr(yuv), stamp)) == stamp


def test_survives_pixelation_to_16x12_blocks(background: list[np.ndarray]) -> None:
    for stamp, yuv in zip(STAMPS, background, strict=False):
        assert read_stamp(pixelate(to_bgr(stamped(yuv, stamp, picture_height=H)))) == stamp


@pytest.mark.parametrize("bitrate", [MIN_BITRATE, 500_000])
def test_survives_vp8_direct_and_relayed(background: list[np.ndarray], bitrate: int) -> None:
    stamps = [Stamp(i % MAX_SENDERS, (1000 + 37 * i) % COUNTER_MODULO) for i in range(len(background))]
    sent = [stamped(yuv, s, picture_height=H) for yuv, s in zip(background, stamps, strict=True)]
    direct = vp8_round_trip(sent, bitrate)
    assert [read_stamp(f, picture_height=H) for f in direct] == stamps
    # The relay: decoded, pixelated by the privacy placeholder, encoded again for the receiver.
    relayed = vp8_round_trip([to_yuv(pixelate(to_bgr(f))) for f in direct], bitrate)
    assert [read_stamp(f, picture_height=H) for f in relayed] == stamps


def test_cards_and_unstamped_frames_read_as_nothing(background: list[np.ndarray]) -> None:
    grey = np.full((H * 3 // 2, W), 128, dtype=np.uint8)
    grey[:H] = 96  # the privacy track's fail-closed card
    assert read_stamp(grey, picture_height=H) is None
    assert read_stamp(np.zeros((H, W), dtype=np.uint8)) is None
    assert read_stamp(np.full((H, W), 255, dtype=np.uint8)) is None
    assert read_stamp(background[0], picture_height=H) is None
    assert read_stamp(pixelate(to_bgr(background[0]))) is None
    damaged = stamped(background[0], Stamp(1, 2), picture_height=H)
    damaged[H - 30 : H - 10, 10:30] = 128  # one data cell neither black nor white
    assert read_stamp(damaged, picture_height=H) is None


def test_stamp_fields_are_bounded() -> None:
    assert Stamp.from_value(Stamp(6, 77).value) == Stamp(6, 77)
    with pytest.raises(ValueError):
        Stamp(MAX_SENDERS, 0)
    with pytest.raises(ValueError):
        Stamp(0, COUNTER_MODULO)
