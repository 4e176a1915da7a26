"""aiortc's video receive path, made to recover from packet loss quickly instead of queueing behind it.

aiortc 1.16's receiver has three habits that turn a little loss into seconds of delay:

- its jitter buffer releases frame N only when frame N+1's first packet arrives (one frame interval per hop);
- a packet that is never recovered blocks every later frame until 512 packets have piled up behind it (about
  five seconds at 900 kbit/s), after which the buffer stays nearly full, so the delay stays;
- a lost packet is NACKed once, when the gap is first seen; if the NACK or the retransmission is lost too, it
  is asked for again only when some later packet goes missing;
- with BUNDLE, its RTP router knows a receiver by its media SSRC and payload types only. A retransmission
  (RTX) has an SSRC of its own, and when several video receivers share one transport (every viewer's slots)
  its payload type matches them all, so it is dropped: NACKs are answered and the answers thrown away.

:class:`FrameJitterBuffer` releases a frame as soon as all its packets are present (marker bit, no gap), and
gives up on a gap that outlives :data:`HOLE_DEADLINE_S`: it drops the damaged frame, restarts at the next
frame boundary and asks for a keyframe (PLI). The deadline runs from when the gap showed (a later packet
arrived), not from when the gap before it was given up: on a congested link several frames in a row are
damaged, and a deadline restarted after each skip made them wait one after another (k gaps, k x 0.25 s).
:class:`RetryingNackGenerator` asks again for a missing packet after a round trip (measured from its own
NACKs), each time waiting twice as long as before (an answer may just be late: a queue on the way), up to
:data:`NACK_TRIES` times and never after the jitter buffer's deadline has given the packet up: on a congested
link every extra NACK becomes a retransmission that takes the room of new video. :func:`install` puts both
into aiortc at one place (the names ``RTCRtpReceiver`` looks up when it is created); audio keeps aiortc's buffer.
:class:`TailProbe` covers the one loss those cannot see: the last packets of a frame (the marker). A gap shows
only when a later packet arrives, and the next one is the next frame's first, a frame interval later (67 ms at
15 fps): at 5 % loss on two hops a tenth of the frames waited that long, most of the relay's delay tail. Like
TCP's tail-loss probe, when a frame has begun but not ended and no packet followed for a few of its usual
packet gaps, the receiver asks for the packets after the newest one; a sender that sent them resends them, one
that did not has nothing to resend (a sender answers only for packets in its history). A frame lost whole (a
still picture's frames are one packet each) leaves no open frame behind; so when the next frame is late by
the same few gaps past the sender's frame interval and past the lateness the last frames showed (a capped link
holds a frame back while another stream's large one drains), the probe asks for it too, unless the frames have
been arriving late (a queue: the next one is on its way, and asking would add to the queue).
:class:`BundleRtpRouter` routes a packet of an unknown SSRC by its MID header extension (RFC 8843), which
aiortc and browsers put on retransmissions too, and remembers the SSRC.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiortc.rtcdtlstransport as _transport
import aiortc.rtcrtpreceiver as _receiver
from aiortc.jitterbuffer import MAX_MISORDER, JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket
from aiortc.utils import uint16_add, uint16_gt, uint32_add

Clock = Callable[[], float]

HOLE_DEADLINE_S = 0.25
"""How long a frame may wait for a missing packet before it is dropped and a keyframe is asked for."""
NACK_TRIES = 8
"""How often one missing packet is asked for at most (the deadline below usually ends it first)."""
NACK_FOR_S = HOLE_DEADLINE_S
"""A packet is asked for only this long after its first NACK: later the jitter buffer has skipped its frame, and
an answer would only take room from the frames that replace it."""
NACK_RTT_S = (0.005, 0.5)
"""Bounds of the measured NACK round trip used as the retry interval (first guess: 50 ms). The floor matters only
on a LAN: a floor of 20 ms held a retry there to 30 ms, then 60 ms more, and at 5 % loss on two hops those
retries were the relay's whole latency tail (p99 122 ms against a p50 of 32). An early retry costs one
duplicate packet; the estimate rises with the answers of a busy sender."""

TAIL_PROBE_S = (0.01, 0.05)
"""Bounds of the silence after an unfinished frame's newest packet before the rest is asked for: a few of the
link's usual gaps between a frame's packets (a rate-capped link spaces them out), at least 10 ms."""
TAIL_PROBE_GAPS = 3.0
"""How many of the usual gaps between a frame's packets count as silence."""
TAIL_PROBE_PACKETS = 2
"""How many packets after the newest one a tail probe inside a frame asks for."""
TAIL_PROBE_TRIES = 2
"""How often the tail after one newest packet is probed: the probe or its answer may be lost too."""
FRAME_INTERVALS = 8
"""The sender's frame interval is the median of this many (RTP timestamp steps between consecutive frames)."""
FRAME_INTERVAL_S = (0.01, 0.5)
"""Frame intervals outside these bounds (100 fps, 2 fps) say nothing about when the next frame is due."""
VIDEO_CLOCK_HZ = 90_000
QUEUEING_S = 0.06
"""A frame that arrived this much later than the earliest of the last ones, measured against its RTP timestamp,
waited in a queue: the link is congested, and a frame that is late there is on its way, not lost."""
TRANSIT_FRAMES = 32
LATENESS_QUANTILE = 0.9
"""Of the last frames' lateness the whole-frame probe waits out this quantile (see :meth:`TailProbe.lateness`)."""
DUE_WITHIN_S = 0.001
"""A probe this close to its time is due (the event loop's timers are no finer)."""

_PLAIN_JITTER_BUFFER = JitterBuffer
_PLAIN_NACK_GENERATOR = _receiver.NackGenerator
_PLAIN_ROUTER = _transport.RtpRouter


def install() -> None:
    """Make every ``RTCRtpReceiver`` created from now on use the buffers below (idempotent, process-wide)."""
    _receiver.JitterBuffer = FrameJitterBuffer  # type: ignore[attr-defined]
    _receiver.NackGenerator = RetryingNackGenerator  # type: ignore[misc]
    _transport.RtpRouter = BundleRtpRouter  # type: ignore[misc]
    _receiver.RTCRtpReceiver._handle_rtp_packet = _handle_rtp_with_tail_probe  # type: ignore[method-assign]


def uninstall() -> None:
    """Back to plain aiortc (tests compare the two)."""
    _receiver.JitterBuffer = _PLAIN_JITTER_BUFFER  # type: ignore[attr-defined]
    _receiver.NackGenerator = _PLAIN_NACK_GENERATOR  # type: ignore[misc]
    _transport.RtpRouter = _PLAIN_ROUTER  # type: ignore[misc]
    _receiver.RTCRtpReceiver._handle_rtp_packet = _PLAIN_HANDLE_RTP  # type: ignore[method-assign]


_PLAIN_HANDLE_RTP = _receiver.RTCRtpReceiver._handle_rtp_packet


async def _handle_rtp_with_tail_probe(self: _receiver.RTCRtpReceiver, packet: RtpPacket, arrival_time_ms: int) -> None:
    """aiortc's packet handling, then (video) the tail probe re-armed for the newest packet."""
    await _PLAIN_HANDLE_RTP(self, packet, arrival_time_ms)
    nacks = getattr(self, "_RTCRtpReceiver__nack_generator", None)
    if isinstance(nacks, RetryingNackGenerator):
        nacks.arm(self._send_rtcp_nack)


class BundleRtpRouter(_transport.RtpRouter):
    """aiortc's router, plus: an unknown SSRC whose MID names a receiver of its payload type goes there."""

    def route_rtp(self, packet: RtpPacket) -> _transport.RtpReceiver | None:
        receiver = super().route_rtp(packet)
        if receiver is not None or packet.ssrc in self.ssrc_table:
            return receiver
        by_mid = self.mid_table.get(packet.extensions.mid or "")
        if by_mid is not None and by_mid in self.payload_type_table.get(packet.payload_type, set()):
            self.ssrc_table[packet.ssrc] = by_mid
            return by_mid
        return None


class FrameJitterBuffer(JitterBuffer):
    """Video: a frame leaves when complete; a gap older than the deadline is skipped (with a PLI)."""

    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False, clock: Clock = time.monotonic) -> None:
        super().__init__(capacity, prefetch=prefetch, is_video=is_video)
        self._clock = clock
        self._ready: deque[JitterFrame] = deque()
        self._arrived: list[float] = [0.0] * capacity
        """When each buffered packet arrived: a gap is known since the first packet after it arrived."""
        self._highest: int | None = None
        self.skipped_gaps = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if not self._is_video:
            return super().add(packet)
        pli = False
        seq = packet.sequence_number
        if self._origin is None:
            self._origin = seq
        delta = uint16_add(seq, -self._origin)
        misorder = uint16_add(self._origin, -seq)
        if misorder < delta:  # before the origin: a late duplicate, or the sender restarted its numbering
            if misorder < MAX_MISORDER:
                return False, self._next()
            self._reset(seq)
            pli, delta = True, 0
        if delta >= self._capacity:  # the gap outgrew the buffer: start over at this packet
            self._reset(seq)
            pli, delta = True, 0
        now = self._clock()
        self._packets[seq % self._capacity] = packet
        self._arrived[seq % self._capacity] = now
        if self._highest is None or uint16_gt(seq, self._highest):
            self._highest = seq
        self._collect()
        while (since := self._gap_seen()) is not None and now - since >= HOLE_DEADLINE_S and self._skip_gap():
            pli = True
            self._collect()
        return pli, self._next()

    def _next(self) -> JitterFrame | None:
        return self._ready.popleft() if self._ready else None

    def _reset(self, seq: int) -> None:
        self._packets = [None] * self._capacity
        self._origin = seq
        self._highest = seq

    def _at(self, offset: int) -> RtpPacket | None:
        assert self._origin is not None
        return self._packets[(self._origin + offset) % self._capacity]

    def _collect(self) -> None:
        """Move every complete frame at the front of the buffer to the ready queue."""
        while True:
            first = self._at(0)
            if first is None:
                return
            if not first._data:  # type: ignore[attr-defined]  # padding (bandwidth probes): no frame of its own
                self.remove(1)
                continue
            for count in range(self._capacity):
                packet = self._at(count)
                if packet is None:
                    return
                if packet.timestamp != first.timestamp:  # a sender without marker bits: the next frame began
                    self._release(count)
                    break
                if packet.marker:
                    self._release(count + 1)
                    break
            else:
                return

    def _release(self, count: int) -> None:
        packets = [self._at(i) for i in range(count)]
        data = b"".join(p._data for p in packets if p is not None)  # type: ignore[attr-defined]
        assert packets[0] is not None
        self._ready.append(JitterFrame(data=data, timestamp=packets[0].timestamp))
        self.remove(count)

    def _gap_seen(self) -> float | None:
        """When the first gap between the front and the newest packet showed: the arrival of the first packet
        after it (None: no gap, every frame at the front can complete)."""
        if self._highest is None or self._origin is None:
            return None
        span = uint16_add(self._highest, -self._origin)
        if span >= self._capacity:
            return None
        gap = False
        for i in range(span + 1):
            if self._at(i) is None:
                gap = True
            elif gap:
                return self._arrived[(self._origin + i) % self._capacity]
        return None

    def _skip_gap(self) -> bool:
        """Drop everything up to the first frame boundary after the gap; False when none has arrived yet."""
        previous: RtpPacket | None = None
        for count in range(1, self._capacity):  # a boundary is a packet after a marker or a timestamp change
            packet = self._at(count)
            if packet is not None and previous is not None and _starts_frame(previous, packet):
                self.remove(count)
                self.skipped_gaps += 1
                return True
            previous = packet
        return False


def _starts_frame(previous: RtpPacket, packet: RtpPacket) -> bool:
    return bool(previous.marker) or previous.timestamp != packet.timestamp


@dataclass(slots=True)
class _Missing:
    asked_at: float
    tries: int
    first_asked: float = -1.0


class RetryingNackGenerator(NackGenerator):
    """NACKs a gap at once, then again after 1.5, 3, 6 ... measured round trips, each packet at most
    ``NACK_TRIES`` times and for at most ``NACK_FOR_S``.

    ``add`` returns True when a NACK is due; ``missing`` then holds exactly the packets to ask for (aiortc's
    receiver sends ``sorted(missing)``).
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._lost: dict[int, _Missing] = {}
        self.rtt = 0.05
        self.tail = TailProbe(clock, lambda: self.rtt)
        self._timer: asyncio.TimerHandle | None = None

    def add(self, packet: RtpPacket) -> bool:
        seq = packet.sequence_number
        now = self._clock()
        self.tail.saw(packet, now)
        if self.max_seq is None:
            self.max_seq = seq
            return False
        if uint16_gt(seq, self.max_seq):
            gap = uint16_add(seq, -self.max_seq) - 1
            for i in range(max(0, gap - RTP_HISTORY_SIZE), gap):
                self._lost[uint16_add(self.max_seq, i + 1)] = _Missing(asked_at=-1.0, tries=0)
            self.max_seq = seq
        else:
            found = self._lost.pop(seq, None)
            if found is not None and found.tries == 1:  # unambiguous: answer to our only NACK
                sample = min(max(now - found.asked_at, NACK_RTT_S[0]), NACK_RTT_S[1])
                self.rtt = 0.8 * self.rtt + 0.2 * sample
        self.missing = self.due(now)
        return bool(self.missing)

    def due(self, now: float) -> set[int]:
        """The missing packets to ask for at ``now`` (marked asked): new gaps, and retries whose time has come."""
        self._forget(now)
        due = {s for s, m in self._lost.items() if m.tries == 0 or now - m.asked_at >= self._retry_after(m.tries)}
        for s in due:
            missing = self._lost[s]
            missing.asked_at = now
            if missing.tries == 0:
                missing.first_asked = now
            missing.tries += 1
        return due

    def next_retry_in(self, now: float) -> float | None:
        """Seconds until a missing packet may be asked for again (None: nothing is missing). Called after
        :meth:`due` (in :meth:`add`, or the timer's), which dropped what is no longer worth asking for."""
        if not self._lost:
            return None
        return max(0.0, min(m.asked_at + self._retry_after(m.tries) - now for m in self._lost.values()))

    def arm(self, send: SendNack) -> None:
        """Keep the one timer set for the earliest of the next retry and the next tail probe, on the running loop.

        Without it, a retry waits for the next packet to arrive: when a NACK or its answer is lost at a frame's
        end, that is the next frame, a frame interval later (on one aiortc hop at 5 % loss, 2 % of the frames).
        """
        now = self._clock()
        waits = [w for w in (self.next_retry_in(now), self.tail.next_in()) if w is not None]
        if not waits:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + min(waits)
        if self._timer is not None:
            if self._timer.when() <= when + 0.001:
                return
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire, send)

    def _fire(self, send: SendNack) -> None:
        self._timer = None
        newest = self.tail.newest
        lost = sorted(self.due(self._clock()) | set(self.tail.due()))
        if lost and newest is not None:
            task = asyncio.ensure_future(send(newest.ssrc, lost))
            task.add_done_callback(_quiet)
        self.arm(send)

    def _forget(self, now: float) -> None:
        """Drop what is no longer worth asking for: too old for the sender's history, asked too often or too long."""
        if self.max_seq is None:
            return
        oldest = uint16_add(self.max_seq, -RTP_HISTORY_SIZE)
        for s in [s for s, m in self._lost.items() if uint16_gt(oldest, s) or m.tries >= NACK_TRIES]:
            del self._lost[s]
        for s in [s for s, m in self._lost.items() if m.tries and now - m.first_asked >= NACK_FOR_S]:
            del self._lost[s]

    def _retry_after(self, tries: int) -> float:
        return 1.5 * self.rtt * float(2 ** (tries - 1))


SendNack = Callable[[int, list[int]], Coroutine[Any, Any, None]]


class TailProbe:
    """Asks for the packets after the newest one when a frame has begun but not ended and the link fell silent,
    or when the next frame is late past the sender's frame interval (see the module's documentation). At most
    :data:`TAIL_PROBE_TRIES` probes per newest packet, the second one a retry interval after the first (``rtt``:
    the NACK generator's round trip): its answer, or the next frame, moves on. The NACK generator's one timer
    (:meth:`RetryingNackGenerator.arm`) asks it when it is due."""

    def __init__(self, clock: Clock = time.monotonic, rtt: Callable[[], float] = lambda: 0.05) -> None:
        self._clock = clock
        self._rtt = rtt
        self._newest: RtpPacket | None = None
        self._arrived = 0.0
        self._probed: int | None = None
        self._tries = 0
        self._probed_at = 0.0
        self.gap = 0.0
        """The usual gap between two packets of one frame (moving average, seconds)."""
        self._intervals: deque[float] = deque(maxlen=FRAME_INTERVALS)
        self._transit: deque[float] = deque(maxlen=TRANSIT_FRAMES)
        """Arrival minus RTP time of the last frames' first packets (seconds, up to a constant)."""
        self._origin: int | None = None
        self.probes = 0

    def saw(self, packet: RtpPacket, now: float) -> None:
        newest = self._newest
        if newest is not None and not uint16_gt(packet.sequence_number, newest.sequence_number):
            return  # a retransmission or a late packet: the newest one stays
        if newest is not None and newest.timestamp == packet.timestamp and not newest.marker:
            self.gap = 0.9 * self.gap + 0.1 * (now - self._arrived) if self.gap else now - self._arrived
        if packet.payload and (newest is None or newest.timestamp != packet.timestamp):  # a new frame's first
            if newest is not None:
                step = uint32_add(packet.timestamp, -newest.timestamp) / VIDEO_CLOCK_HZ
                if FRAME_INTERVAL_S[0] <= step <= FRAME_INTERVAL_S[1]:
                    self._intervals.append(step)
            self._origin = packet.timestamp if self._origin is None else self._origin
            self._transit.append(now - uint32_add(packet.timestamp, -self._origin) / VIDEO_CLOCK_HZ)
        self._newest, self._arrived = packet, now

    def frame_interval(self) -> float | None:
        """The sender's usual time between frames (the median of the last steps; a lost frame makes one step
        two intervals long), or None before three frames have been seen."""
        if len(self._intervals) < 2:
            return None
        return float(statistics.median(self._intervals))

    def lateness(self) -> float:
        """How much later than the earliest of the last frames most of them arrived (seconds, the 90th
        percentile): the jitter a rate-capped link adds when a large frame of another stream drains ahead of
        this one's. One late frame (a keyframe that took longer to encode) is not the link's habit."""
        if not self._transit:
            return 0.0
        ordered = sorted(self._transit)
        return ordered[int(LATENESS_QUANTILE * (len(ordered) - 1))] - ordered[0]

    def queueing(self) -> bool:
        """Whether the newest frame arrived :data:`QUEUEING_S` later than the earliest of the last frames would
        have put it (a queue on the way: its packets are late, not lost; asking for them would add to it)."""
        return len(self._transit) > 1 and self._transit[-1] - min(self._transit) > QUEUEING_S

    def wait(self) -> float:
        """How long the link may stay silent inside a frame before the probe."""
        low, high = TAIL_PROBE_S
        return min(max(TAIL_PROBE_GAPS * self.gap, low), high)

    def due(self) -> list[int]:
        """The sequence numbers to ask for now (empty: the frame ended, or it was asked already, or not yet)."""
        newest = self._newest
        wait = self.next_in()
        if newest is None or wait is None or wait > DUE_WITHIN_S:
            return []
        if self._probed != newest.sequence_number:
            self._probed, self._tries = newest.sequence_number, 0
        self._tries += 1
        self._probed_at = self._clock()
        self.probes += 1
        return [uint16_add(newest.sequence_number, i + 1) for i in range(TAIL_PROBE_PACKETS)]

    def retry_after(self) -> float:
        """How long after a probe the next one may go: its answer had a round trip to come."""
        return max(self.wait(), 1.5 * self._rtt())

    def next_in(self) -> float | None:
        """Seconds until :meth:`due` may next ask for something (None: nothing to ask for yet, or probed out).

        Inside a frame the silence may last :meth:`wait`; after a frame's last packet, the sender's frame
        interval as well (the next frame is due then)."""
        newest = self._newest
        if newest is None or not newest.payload:  # a padding packet is no frame
            return None
        silence = self.wait()
        if newest.marker:
            interval = self.frame_interval()
            if interval is None or self.queueing():
                return None
            # A frame later than most of the last ones is overdue; earlier, it may be on its way still (asking
            # for it then sent its packets twice into the link that delayed them).
            silence += interval + min(self.lateness(), QUEUEING_S)
        now = self._clock()
        if self._probed != newest.sequence_number:
            return max(0.0, self._arrived + silence - now)
        if self._tries >= TAIL_PROBE_TRIES:
            return None
        return max(0.0, self._probed_at + self.retry_after() - now)

    @property
    def newest(self) -> RtpPacket | None:
        return self._newest


def _quiet(task: asyncio.Future[None]) -> None:
    """A probe whose transport closed meanwhile is of no interest."""
    if not task.cancelled():
        task.exception()
