"""Fan-out to many senders: each video subscriber gets the newest frame; nothing queues behind a slow one."""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from session.media.fanout import AUDIO_BUFFER_FRAMES, Fanout


class Counter(MediaStreamTrack):
    def __init__(self, kind: str, n: int, interval: float) -> None:
        super().__init__()
        self.kind, self.n, self.interval, self.i = kind, n, interval, 0

    async def recv(self) -> int:  # type: ignore[override]
        if self.i >= self.n:
            raise MediaStreamError
        await asyncio.sleep(self.interval)
        self.i += 1
        return self.i


async def drain(track: MediaStreamTrack, delay: float) -> list[int]:
    got: list[int] = []
    try:
        while True:
            got.append(await track.recv())  # type: ignore[arg-type]  # Counter yields ints
            await asyncio.sleep(delay)
    except MediaStreamError:
        return got


async def test_slow_video_subscriber_skips_and_fast_one_sees_all() -> None:
    fan = Fanout(Counter("video", 60, 0.005))
    fast, slow = fan.subscribe(), fan.subscribe()
    got_fast, got_slow = await asyncio.gather(drain(fast, 0), drain(slow, 0.03))
    assert len(got_fast) >= 55
    assert got_slow == sorted(got_slow) and len(got_slow) < 25  # skipped, newest first, no backlog
    assert got_slow[-1] >= 55
    await fan.stop()


async def test_audio_keeps_a_short_bounded_buffer() -> None:
    fan = Fanout(Counter("audio", 100, 0.001))
    sub = fan.subscribe()
    await asyncio.sleep(0.4)  # nobody reads for a while
    got = await drain(sub, 0)
    assert len(got) <= AUDIO_BUFFER_FRAMES + 1
    assert got[-1] == 100  # what is kept is the most recent audio
    await fan.stop()


async def test_unsubscribed_track_ends() -> None:
    fan = Fanout(Counter("video", 1000, 0.01))
    sub = fan.subscribe()
    await sub.recv()
    sub.stop()
    try:
        await asyncio.wait_for(sub.recv(), 1)
        raise AssertionError("a stopped subscriber still received")
    except MediaStreamError:
        pass
    await fan.stop()
