"""A re-pointed receive slot keeps its sender running and continues its timeline when someone rejoins."""

from __future__ import annotations

import asyncio
import fractions
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from av import VideoFrame

from session.media.shared_encoder import FRAME_TICKS, SenderTimeline, SharedEncoder
from session.media.slot_track import SlotTrack

pytestmark = pytest.mark.timeout(60)


class Camera(VideoStreamTrack):
    """Frames whose timestamps start at ``origin``, as a browser's stream starts at a random RTP timestamp."""

    def __init__(self, origin: int) -> None:
        super().__init__()
        self.pts = origin

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(1 / 30)
        if self.readyState != "live":
            raise MediaStreamError
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
    # The new stream follows after the time that really passed (a receiver's clock estimate stays valid).
    assert FRAME_TICKS <= seen[6] - seen[5] <= 90_000 * 2


async def test_a_slot_track_outlives_the_streams_it_carries() -> None:
    """aiortc's sender loop ends when its track ends: a slot's track must survive leaving and rejoining."""
    slot = SlotTrack("video")
    first = Camera(0)
    slot.switch(first)
    assert isinstance(await asyncio.wait_for(slot.recv(), 5), VideoFrame)
    waiting = asyncio.ensure_future(slot.recv())  # the sender waits for the next frame while the person leaves
    await asyncio.sleep(0)
    slot.switch(None)
    first.stop()
    await asyncio.sleep(0.2)
    assert not waiting.done(), "the slot's track ended with the stream it carried"
    slot.switch(Camera(90_000))  # the same person, reloaded
    frame = await asyncio.wait_for(waiting, 5)
    assert isinstance(frame, VideoFrame) and frame.pts == 90_000
    slot.stop()
