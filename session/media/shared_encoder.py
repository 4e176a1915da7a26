"""Encode each processed video stream once and send the same VP8 packets to every receiver.

aiortc runs one encoder per outgoing connection, so a stream seen by N others (plus its own self-view) was
encoded N+1 times; encoding was the largest share of the relay's CPU. Here one libvpx encoder per participant
produces packets, and each sender packetizes the same bytes (aiortc's sender takes ``av.Packet`` objects and
only wraps them in RTP). Packets cannot be skipped like raw frames (later frames refer to earlier ones), so each
subscriber has a bounded queue; a subscriber that falls behind is cut back to the next keyframe instead of
growing a backlog. Keyframes are produced when a receiver joins or asks for one (PLI/FIR), coalesced and
rate-limited (:mod:`session.media.keyframes`) so that one receiver's loss does not force keyframes on everyone.
A stream is encoded in at most two qualities, and only in those some receiver wants now: the high layer for
links that carry it, a low one (a quarter of the pixels, :data:`~session.media.link_policy.LOW_BPS`) for links that
do not (:mod:`session.media.link_policy` decides per receiver). A receiver moved to another layer gets that layer's
packets from its next keyframe on; both layers encode the same frames, so timestamps do not move.
NACKs need nothing here: aiortc's sender keeps the RTP packets it sent, pre-encoded or not, and retransmits them.

A receive slot is re-pointed (``replaceTrack``) when someone leaves and another joins, or the same person
reloads: the new stream's timestamps come from another encoder and would jump, often backwards, and a
browser then drops the "old" frames for as long as the jump lasts (the frozen tile after a host's reload).
So each sender keeps one :class:`SenderTimeline`, and every track it is given continues that timeline.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from concurrent.futures import Executor
from fractions import Fraction
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame
from av.packet import Packet

from session.media.fanout import Broadcast
from session.media.keyframes import KeyframeGate
from session.media.link_policy import HIGH_BPS, LOW_BPS, Layer

VIDEO_TIME_BASE = Fraction(1, 90000)
QUEUE_PACKETS = 15  # one second at 15 fps; more means the receiver's sender loop is stuck
BITRATE = HIGH_BPS
LOW_SIZE = (320, 240)


def new_vp8_encoder(width: int, height: int, bitrate: int = BITRATE) -> Any:
    """libvpx tuned as aiortc tunes it for real time (CBR, no lag), with keyframes only on request."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.time_base = VIDEO_TIME_BASE
    codec.bit_rate = bitrate
    codec.gop_size = 3000
    codec.qmin, codec.qmax = 2, 56
    codec.options = {
        "bufsize": str(bitrate),
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "noise-sensitivity": "4",
        "overshoot-pct": "15",
        "partitions": "0",
        "static-thresh": "1",
        "undershoot-pct": "100",
        "error-resilient": "1",
    }
    codec.thread_count = 1
    return codec


FRAME_TICKS = 90_000 // 30  # the step from one stream to the next on a timeline: one frame at 30 fps


class SenderTimeline:
    """The timestamps one RTP sender has sent: a track that replaces another continues after the last one,
    advanced by the time that passed in between, as a paused camera's stream would be (a receiver's clock
    estimate then needs no reset)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.last_pts: int | None = None
        self.last_at = 0.0
        self._clock = clock

    def start(self) -> int:
        if self.last_pts is None:
            return 0
        gap = int((self._clock() - self.last_at) * VIDEO_TIME_BASE.denominator)
        return self.last_pts + max(FRAME_TICKS, gap)

    def sent(self, pts: int) -> None:
        self.last_pts, self.last_at = pts, self._clock()


class SharedEncoder(Broadcast):
    """Encodes the processed frames of ``source`` (its one consumer) and offers the packets to subscribers."""

    name = "shared_encoder"

    def __init__(self, source: MediaStreamTrack, executor: Executor, clock: Any = time.monotonic) -> None:
        self._executor = executor
        self._codecs: dict[Layer, Any] = {}
        self._clock = clock
        self.gates = {Layer.HIGH: KeyframeGate(), Layer.LOW: KeyframeGate()}
        self.on_event: Callable[[str], None] = lambda _event: None
        """Counts keyframes made and subscribers cut back to a keyframe (for metrics)."""
        self.packets = 0
        self.keyframes = 0
        self.layer_frames = {Layer.HIGH: 0, Layer.LOW: 0}
        super().__init__(source)

    def subscribe(self, timeline: SenderTimeline | None = None, layer: Layer = Layer.HIGH) -> EncodedTrack:
        track = EncodedTrack(self, timeline or SenderTimeline(), layer)
        self._subscribers.add(track)
        self.request_keyframe(layer)
        return track

    def request_keyframe(self, layer: Layer = Layer.HIGH) -> None:
        if layer is not Layer.NONE:
            self.gates[layer].request()

    def _wanted(self) -> list[Layer]:
        wanted = {getattr(sub, "layer", Layer.HIGH) for sub in self._subscribers}
        return [layer for layer in (Layer.HIGH, Layer.LOW) if layer in wanted]

    def _encode(self, frame: VideoFrame, layer: Layer, keyframe: bool) -> list[Packet[Any]]:
        if layer is Layer.LOW and frame.width > LOW_SIZE[0]:
            scaled = frame.reformat(width=LOW_SIZE[0], height=LOW_SIZE[1], format="yuv420p")
            scaled.pts, scaled.time_base = frame.pts, frame.time_base
            frame = scaled
        codec = self._codecs.get(layer)
        if codec is None or (codec.width, codec.height) != (frame.width, frame.height):
            codec = self._codecs[layer] = new_vp8_encoder(
                frame.width, frame.height, LOW_BPS if layer is Layer.LOW else BITRATE
            )
            keyframe = True
        # The frame is used by this encoder alone (the low layer gets a scaled copy), so marking it is safe.
        frame.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        packets: list[Packet[Any]] = list(codec.encode(frame))
        for packet in packets:
            packet.time_base = VIDEO_TIME_BASE
        return packets

    def _encode_layers(self, frame: VideoFrame, keyframes: dict[Layer, bool]) -> list[tuple[Layer, Packet[Any]]]:
        out: list[tuple[Layer, Packet[Any]]] = []
        for layer, keyframe in keyframes.items():
            out += [(layer, packet) for packet in self._encode(frame, layer, keyframe)]
        return out

    async def _produce(self, frame: Any) -> list[Any]:
        assert isinstance(frame, VideoFrame)
        if frame.time_base != VIDEO_TIME_BASE and frame.pts is not None and frame.time_base:
            frame.pts = int(frame.pts * frame.time_base / VIDEO_TIME_BASE)
            frame.time_base = VIDEO_TIME_BASE
        wanted = self._wanted()
        for layer in set(self._codecs) - set(wanted):
            del self._codecs[layer]  # nobody receives it now; a receiver moved back gets a new encoder's keyframe
        if not wanted:
            return []
        now = self._clock()
        keyframes = {layer: self.gates[layer].take(now) for layer in wanted}
        loop = asyncio.get_running_loop()
        items = await loop.run_in_executor(self._executor, self._encode_layers, frame, keyframes)
        self.packets += len(items)
        for layer in wanted:
            self.layer_frames[layer] += 1
            if any(p.is_keyframe for la, p in items if la is layer):
                self.keyframes += 1
                self.on_event("keyframe")
                if not keyframes[layer]:
                    self.gates[layer].forced(now)
        return items


class EncodedTrack(MediaStreamTrack):
    """What one sender reads: VP8 packets of one layer, starting at a keyframe, never more than a second behind."""

    kind = "video"

    def __init__(self, encoder: SharedEncoder, timeline: SenderTimeline, layer: Layer = Layer.HIGH) -> None:
        super().__init__()
        self._encoder = encoder
        self._timeline = timeline
        self.layer = layer
        """The layer this receiver gets; NONE sends nothing (audio only)."""
        self._shift: int | None = None
        """Added to the encoder's timestamps so that this track continues its sender's timeline."""
        self._packets: collections.deque[Packet[Any]] = collections.deque()
        self._ready = asyncio.Event()
        self._synced = False  # nothing is sent before the first keyframe: earlier packets cannot be decoded
        self.resyncs = 0
        self.bytes_sent = 0
        """Payload bytes handed to the sender (retransmissions not counted): what this receiver is sent."""

    def set_layer(self, layer: Layer) -> None:
        """Switch at the new layer's next keyframe; what is queued of the old layer still decodes and goes out."""
        if layer is self.layer:
            return
        self.layer = layer
        self._synced = False
        self._encoder.request_keyframe(layer)

    def offer(self, item: tuple[Layer, Packet[Any]]) -> None:
        layer, packet = item
        if layer is not self.layer:
            return
        if not self._synced:
            if not packet.is_keyframe:
                return
            self._synced = True
        if len(self._packets) >= QUEUE_PACKETS:
            self._packets.clear()
            self._synced = packet.is_keyframe
            self.resyncs += 1
            self._encoder.on_event("subscriber_resync")
            self._encoder.request_keyframe(self.layer)
            if not self._synced:
                return
        self._packets.append(packet)
        self._ready.set()

    def request_keyframe(self) -> None:
        """Called for the receiver's PLI/FIR (hooked into aiortc's sender)."""
        self._encoder.request_keyframe(self.layer)

    def end(self) -> None:
        super().stop()
        self._ready.set()

    def stop(self) -> None:
        self._encoder.unsubscribe(self)
        self.end()

    async def recv(self) -> Packet[Any]:
        while not self._packets:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        packet = self._packets.popleft()
        if packet.pts is None:
            return packet
        if self._shift is None:
            self._shift = self._timeline.start() - packet.pts
        # The packet is shared with the other receivers: its timestamp is theirs too, so send a copy.
        out: Packet[Any] = Packet(bytes(packet))
        out.pts = packet.pts + self._shift
        out.time_base = packet.time_base
        out.is_keyframe = packet.is_keyframe
        self.bytes_sent += packet.size
        self._timeline.sent(out.pts)
        return out
