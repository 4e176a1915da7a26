"""Hand-written fakes for the recordings tests: a key provider, a clock, and aiortc tracks from arrays."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from recordings.errors import UnknownKek
from recordings.key_provider import Kek


class FakeKeyProvider:
    """KEKs in memory; ``lookups`` counts reads so tests can see the key was actually asked for."""

    def __init__(self, *keys: bytes) -> None:
        self._keks = [Kek(k) for k in (keys or (os.urandom(32),))]
        self.lookups = 0

    def current(self) -> Kek:
        return self._keks[0]

    def lookup(self, kek_id: bytes) -> Kek:
        self.lookups += 1
        for kek in self._keks:
            if kek.kek_id == kek_id:
                return kek
        raise UnknownKek()


class FixedClock:
    """A wall clock that stands still until told to move (the retention and deletion code's ``Clock``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


def yuv_frame(bgr: np.ndarray) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")


def solid_bgr(color: tuple[int, int, int], width: int = 320, height: int = 240) -> np.ndarray:
    return np.full((height, width, 3), color, np.uint8)


class ArrayVideoTrack(MediaStreamTrack):
    """Plays BGR frames as yuv420p VideoFrames at ``fps`` in real time (looping when ``loop``), then ends."""

    kind = "video"

    def __init__(self, frames: Sequence[np.ndarray], fps: int = 15, *, loop: bool = False) -> None:
        super().__init__()
        self._frames = [yuv_frame(f) for f in frames]
        self._fps = fps
        self._repeat = loop
        self._index = 0
        self._start: float | None = None
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._index >= len(self._frames):
            if not self._repeat:
                self.stop()
                raise MediaStreamError
            self._index = 0
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self.sent / self._fps - time.monotonic()))
        frame = self._frames[self._index]
        frame.pts, frame.time_base = self.sent, Fraction(1, self._fps)
        self._index += 1
        self.sent += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A sine tone as 20 ms s16 stereo 48 kHz frames in real time (what aiortc's Opus decoder yields)."""

    kind = "audio"

    def __init__(self, hz: float = 440.0, *, layout: str = "stereo", rate: int = 48_000) -> None:
        super().__init__()
        self._hz = hz
        self._layout = layout
        self._rate = rate
        self._start: float | None = None
        self.sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        samples = self._rate // 50
        await asyncio.sleep(max(0.0, self._start + self.sent * 0.02 - time.monotonic()))
        t = (np.arange(samples) + self.sent * samples) / self._rate
        tone = (np.sin(2 * np.pi * self._hz * t) * 6000).astype(np.int16)
        channels = 1 if self._layout == "mono" else 2
        data = np.repeat(tone, channels).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout=self._layout)
        frame.sample_rate = self._rate
        frame.pts, frame.time_base = self.sent * samples, Fraction(1, self._rate)
        self.sent += 1
        return frame
