"""The bench's media: a stamped 15 fps camera, a camera that never sends, and a watcher per received track.

Frames are built as yuv420p from the start (no per-frame colour conversion in the bench, and encoders sharing a
frame never convert it concurrently, see DESIGN's first pitfall). The chroma under the stamp is kept neutral so
the stamp cells are pure black and white in every colour space the relay passes through.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from bench.frame_stamp import COUNTER_MODULO, Stamp, read_stamp, stamp_band, stamped

VIDEO_CLOCK = 90_000


def _neutral_stamp_chroma(yuv: np.ndarray, height: int) -> np.ndarray:
    # PyAV's yuv420p array: `height` luma rows, then U and V, each packed two chroma rows per array row.
    band = stamp_band(height)
    quarter = height // 4
    out = yuv.copy()
    out[height + band.start // 4 : height + band.stop // 4] = 128
    out[height + quarter + band.start // 4 : height + quarter + band.stop // 4] = 128
    return out


def synthetic_background(width: int, height: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` yuv420p frames of drifting colour ramps, moving boxes and sensor noise: work for VP8.

    Nothing in it looks like a face to the anonymizer's detectors (random textures do: BlazeFace finds faces
    in blurred noise, and the masks then cover the stamp).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    boxes = [
        (
            int(rng.integers(0, width)),
            int(rng.integers(0, height)),
            int(rng.integers(width // 20, width // 4)),
            int(rng.integers(height // 24, height // 5)),
            tuple(int(c) for c in rng.integers(30, 230, 3)),
            float(rng.uniform(-4, 4)),
            float(rng.uniform(-2, 2)),
        )
        for _ in range(12)
    ]
    frames: list[np.ndarray] = []
    for i in range(count):
        drift = (xx + yy * 0.5) / (width + height / 2) + i / count  # linear ramps: no blobs that read as faces
        planes = (80 + 100 * (drift % 1), 90 + 80 * (yy / height), 100 + 60 * ((1 - drift) % 1))
        bgr = np.dstack(planes).astype(np.uint8)
        for x, y, w, h, colour, vx, vy in boxes:
            x0, y0 = int(x + vx * i) % width, int(y + vy * i) % height
            cv2.rectangle(bgr, (x0, y0), (x0 + w, y0 + h), colour, -1)
            cv2.line(bgr, (x0, y0), (x0 + w, y0 + h), tuple(255 - c for c in colour), 3)
        noise = rng.standard_normal(bgr.shape, dtype=np.float32) * 3
        bgr = np.clip(bgr + noise, 0, 255).astype(np.uint8)
        yuv = VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p").to_ndarray()
        frames.append(_neutral_stamp_chroma(yuv, height))
    return frames


def clip_background(width: int, height: int, fps: int) -> list[np.ndarray]:
    """The shared test clip (real faces, for a face anonymizer's real cost) as yuv420p frames."""
    from tests.media import clip_frames

    frames = []
    for bgr in clip_frames(width, height, fps):
        yuv = VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p").to_ndarray()
        frames.append(_neutral_stamp_chroma(yuv, height))
    return frames


class StampedSource(MediaStreamTrack):
    """A camera at ``fps`` whose frames carry ``Stamp(sender, counter)``; remembers when each one left.

    When the event loop falls more than a frame behind it skips frames, as a camera would, instead of bursting.
    """

    kind = "video"

    def __init__(self, sender: int, background: list[np.ndarray], height: int, fps: int) -> None:
        super().__init__()
        self.sender = sender
        self.fps = fps
        self.produced = 0
        self.sent_at: dict[int, float] = {}
        """counter -> time.monotonic() when the frame was handed to the encoder side."""
        self._background = background
        self._height = height
        self._start: float | None = None
        self._index = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._index / self.fps
        if now < due:
            await asyncio.sleep(due - now)
        elif now - due > 1 / self.fps:
            self._index = int((now - self._start) * self.fps)
        counter = self._index % COUNTER_MODULO
        yuv = stamped(self._background[self._index % len(self._background)], Stamp(self.sender, counter), self._height)
        frame = VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._index * (VIDEO_CLOCK // self.fps)
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self._index += 1
        self.produced += 1
        self.sent_at[counter] = time.monotonic()
        return frame


class SilentVideoTrack(MediaStreamTrack):
    """A camera that is switched off: the sender never gets a frame to encode (a receive-only participant)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._stopped = asyncio.Event()

    async def recv(self) -> VideoFrame:
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        self._stopped.set()


def luma_plane(frame: VideoFrame) -> tuple[np.ndarray, int]:
    """The frame's luma without copying when it is planar 4:2:0 (what aiortc's decoders give), and its height."""
    if frame.format.name in ("yuv420p", "yuvj420p"):
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(frame.height, plane.line_size)
        return rows[:, : frame.width], frame.height
    return frame.to_ndarray(format="gray"), frame.height


@dataclass(slots=True)
class TrackLog:
    """What one viewer decoded from one received video track, which carries one known sender."""

    viewer: str
    """``receiver-<i>`` or ``self-<i>`` (a sender's own processed view)."""
    sender: int
    arrivals: list[tuple[float, int, int, float]] = field(default_factory=list)
    """Stamped frames: (arrival time, sender in the stamp, counter, latency in s or NaN if the send is unknown)."""
    heights: list[tuple[float, int]] = field(default_factory=list)
    """(arrival time, picture height) of every decoded frame: which quality a receiver was sent."""
    unreadable: list[float] = field(default_factory=list)
    """Arrival times of frames without a readable stamp: cards (gate closed, fail-closed), or a mask of the
    anonymizer (a false face) over the stamp. They still count as delivered frames of this track's sender."""


async def watch(track: MediaStreamTrack, log: TrackLog, send_time: Callable[[Stamp], float | None]) -> None:
    """Decode-side measurement: runs until the track ends; the latency is taken the moment a frame is handed over."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        now = time.monotonic()
        if not isinstance(frame, VideoFrame):
            continue
        luma, height = luma_plane(frame)
        log.heights.append((now, height))
        stamp = read_stamp(luma, height)
        if stamp is None:
            log.unreadable.append(now)
            continue
        sent = send_time(stamp)
        log.arrivals.append((now, stamp.sender, stamp.counter, now - sent if sent is not None else math.nan))


async def drain(track: MediaStreamTrack) -> None:
    """Consume a received track nobody measures (aiortc queues decoded frames without limit otherwise)."""
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
