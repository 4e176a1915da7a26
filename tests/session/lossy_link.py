"""Two real aiortc peers on loopback, one sending the shared encoder's packets, with chosen RTP packets lost.

The loss sits at the seam where aiortc hands a plain RTP packet to SRTP (``RTCDtlsTransport._send_rtp``), so
everything above it (packetizer, retransmission history, RTX, NACK/PLI, the receive layer) is the real thing.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket, is_rtcp

from session.media.ice import enable_loopback_candidates, rtc_configuration
from session.media.rtcp_guard import guard_video_sender
from session.media.shared_encoder import SharedEncoder

FPS = 15


class Camera(MediaStreamTrack):
    """Moving noise at 15 fps, so every frame has several RTP packets."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self._n = 0
        self._start: float | None = None
        self._image = np.random.default_rng(3).integers(0, 255, (height, width, 3), dtype=np.uint8)

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._n / FPS - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(np.roll(self._image, 4 * self._n, axis=1), format="bgr24")
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = self._n * 90000 // FPS, Fraction(1, 90000)
        self._n += 1
        return frame


@dataclass
class Loss:
    """Which media packets the sender's transport drops, by original sequence number (RTX included)."""

    media_index: set[int] = field(default_factory=set)
    """Drop the n-th media RTP packet sent (0-based), first transmission only."""
    forever: set[int] = field(default_factory=set)
    """... and for these, every retransmission as well."""
    marker_index: set[int] = field(default_factory=set)
    """Drop the n-th frame's last packet (the one with the marker bit), first transmission only."""
    frame_index: set[int] = field(default_factory=set)
    """Drop every packet of the n-th frame (0-based, by RTP timestamp), first transmissions only."""
    first_twice: set[int] = field(default_factory=set)
    """Drop the n-th frame's first packet and its first retransmission (a NACK's answer lost too)."""
    dropped: int = 0
    _count: int = 0
    _markers: int = 0
    _frames: int = -1
    _timestamp: int | None = None
    _doomed: set[int] = field(default_factory=set)
    _twice: set[int] = field(default_factory=set)
    _twice_frames: set[int] = field(default_factory=set)

    def keep(self, packet: RtpPacket, rtx_ssrc: int) -> bool:
        if packet.ssrc == rtx_ssrc and len(packet.payload) >= 2:
            original = struct.unpack("!H", packet.payload[:2])[0]
            if original in self._twice:
                self._twice.discard(original)
                return False
            return original not in self._doomed
        index, self._count = self._count, self._count + 1
        if packet.timestamp != self._timestamp:
            self._frames, self._timestamp = self._frames + 1, packet.timestamp
        if self._frames in self.frame_index:
            return False
        if packet.marker:
            marker, self._markers = self._markers, self._markers + 1
            if marker in self.marker_index:
                return False
        if index in self.forever:
            self._doomed.add(packet.sequence_number)
        if self._frames in self.first_twice and packet.timestamp not in self._twice_frames:
            self._twice_frames.add(packet.timestamp)
            self._twice.add(packet.sequence_number)
            return False
        return index not in self.media_index and index not in self.forever


@dataclass
class Link:
    sender: RTCPeerConnection
    receiver: RTCPeerConnection
    track: MediaStreamTrack
    camera: Camera
    encoder: SharedEncoder
    executor: ThreadPoolExecutor
    rtp_sender: RTCRtpSender
    events: Counter[str]
    """What the sender's RTCP guard counted (as the relay reports to /internal/metrics)."""

    async def close(self) -> None:
        await self.encoder.stop()
        await self.sender.close()
        await self.receiver.close()
        self.executor.shutdown(wait=False)


async def lossy_link(loss: Loss, extra_video_receivers: int = 0) -> Link:
    """Sender: camera -> SharedEncoder -> one RTCRtpSender, guarded and wired to the encoder as the relay does.

    ``extra_video_receivers`` adds recvonly video transceivers on the receiving side before the used one, as a
    browser's slots do: with BUNDLE they all share one transport and one set of payload types.
    """
    enable_loopback_candidates(True)
    executor = ThreadPoolExecutor(2)
    config = rtc_configuration([])  # max-bundle, as the relay: every receiver on one transport
    sender, receiver = RTCPeerConnection(config), RTCPeerConnection(config)
    camera = Camera()
    encoder = SharedEncoder(camera, executor)
    for _ in range(extra_video_receivers):
        sender.addTransceiver("video", direction="sendonly")
    encoded = encoder.subscribe()
    rtp_sender: RTCRtpSender = sender.addTransceiver(encoded, direction="sendonly").sender
    events: Counter[str] = Counter()
    guard_video_sender(rtp_sender, encoded.request_keyframe, lambda event: events.update([event]))
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    receiver.on("track", tracks.put_nowait)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    track = None
    while track is None or tracks.qsize():
        track = await tracks.get()  # the last one is ours: the extra transceivers come first
    transport = rtp_sender.transport
    send_rtp: Callable[[bytes], Awaitable[None]] = transport._send_rtp

    async def lossy_send(data: bytes) -> None:
        if is_rtcp(data) or loss.keep(RtpPacket.parse(data), rtp_sender._rtx_ssrc):
            await send_rtp(data)
        else:
            loss.dropped += 1

    transport._send_rtp = lossy_send  # type: ignore[method-assign]
    return Link(sender, receiver, track, camera, encoder, executor, rtp_sender, events)


@dataclass(frozen=True)
class Arrival:
    frame: int
    """Camera frame number, counted from the first frame decoded."""
    at: float
    delay: float
    """Seconds later than the first decoded frame's pace would have it: grows when a queue grows."""


async def receive(link: Link, seconds: float) -> list[Arrival]:
    """Every frame decoded within ``seconds``."""
    got: list[Arrival] = []
    end = time.monotonic() + seconds
    first: tuple[int, float] | None = None
    while (left := end - time.monotonic()) > 0:
        try:
            frame = await asyncio.wait_for(link.track.recv(), left)
        except TimeoutError:
            break
        now = time.monotonic()
        assert frame.pts is not None
        if first is None:
            first = (frame.pts, now)
        number = round((frame.pts - first[0]) * FPS / 90000)
        got.append(Arrival(number, now, (now - first[1]) - number / FPS))
    return got
