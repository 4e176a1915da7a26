"""A re-pointed receive slot continues its sender's timeline: no timestamp jump when someone rejoins."""

from __future__ import annotations

import asyncio
import fractions
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from aiortc.mediastreams import VideoStreamTrack
from av import VideoFrame

from session.shared_encoder import FRAME_TICKS, SenderTimeline, SharedEncoder

pytestmark = pytest.mark.timeout(60)


class Camera(VideoStreamTrack):
    """Frames whose timestamps start at ``origin``, as a browser's stream starts at a random RTP timestamp."""

    def __init__(self, origin: int) -> None:
        super().__init__()
        self.pts = origin

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(1 / 30)
        frame = VideoFrame.from_ndarray(np.full((120, 160, 3), 90, np.uint8), format="bgr24")
        frame.pts, frame.time_base = self.pts, fractions.Fraction(1, 90_000)
        self.pts += FRAME_TICKS
        return frame


async def test_a_slot_re_pointed_to_a_rejoined_participant_continues_its_timestamps() -> None:
    timeline = SenderTimeline()  # one viewer's slot sender
    seen: list[int] = []
    with ThreadPoolExecutor(1) as pool:
        # The host before the reload: a stream far along; after it, a new stream starting far lower.
        for origin in (3_000_000_000, 1_000):
            encoder = SharedEncoder(Camera(origin), pool)
            track = encoder.subscribe(timeline)
            first = await asyncio.wait_for(track.recv(), 10)
            assert first.is_keyframe or seen  # the first stream starts at a keyframe
            seen.append(int(first.pts or 0))
            for _ in range(5):
                seen.append(int((await asyncio.wait_for(track.recv(), 10)).pts or 0))
            track.stop()
            await encoder.stop()
    assert seen == sorted(seen), "timestamps went backwards on the re-pointed sender"
    assert seen[6] - seen[5] == FRAME_TICKS  # the new stream follows at once, without a gap either
