"""One receiver's link, as its RTCP feedback shows it, and the layer it is sent (see :mod:`session.media.link_policy`).

aiortc's sender reads REMB only to retarget its own encoder, which the shared encoder does not use, and keeps
receiver reports to itself. :func:`watch_sender_feedback` taps one sender's RTCP handling (after aiortc has
measured the round trip the way aiortc does, but unsmoothed: a queue must show within a report or two)
and passes the numbers on; :class:`ReceiverLink` gathers
them for every video stream sent to one participant and moves those streams between layers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from aiortc import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)

from session.media.link_policy import Layer, LinkPolicy

Report = Callable[..., None]
Pad = Callable[[int], Awaitable[int]]
"""Sends about the given bytes of padding to the receiver; returns the bytes sent."""
Ping = Callable[[Callable[[], bool], Callable[[], object]], Awaitable[None]]
"""Pings the receiver while the first callable says so; calls the second when the pings show a queue
(:func:`session.media.probe_ping.ping_while_probing` on the receiver's connection)."""

PAD_STEP_S = 0.02
"""Padding goes out in steps this far apart: smooth enough for a link that queues, few enough for the loop."""
PAD_BURST_BYTES = 4000
"""At most this much padding at once (three or four packets): neither silence nor a burst is saved up."""


NACKED_MEMORY = 512
"""Sequence numbers remembered per sender, so that a packet asked for again is not counted as lost again."""
MAX_ESTIMATED_SETS = 64
"""Sets of streams whose last estimate is kept (a receiver estimates them all together, or one per stream)."""


def watch_sender_feedback(sender: RTCRtpSender, on_report: Report) -> None:
    """Send ``sender``'s REMB, round trip, loss and newly NACKed packets to ``on_report`` (keyword arguments
    of :meth:`LinkPolicy.report`). Idempotent per sender; a later call re-targets it (senders outlive slots)."""
    sender._samhandling_report = on_report  # type: ignore[attr-defined]
    if getattr(sender, "_samhandling_watched", False):
        return
    handle = sender._handle_rtcp_packet
    nacked: dict[int, None] = {}  # insertion-ordered: the oldest are forgotten first

    async def handle_and_report(packet: Any) -> None:
        sent_at = (getattr(sender, "_RTCRtpSender__lsr", None), getattr(sender, "_RTCRtpSender__lsr_time", None))
        received_at = time.time()
        await handle(packet)
        report: Report = sender._samhandling_report  # type: ignore[attr-defined]
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            if sender._ssrc in ssrcs:
                report(estimate_bps=float(bitrate), ssrcs=frozenset(ssrcs))
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            if packet.media_ssrc == sender._ssrc:
                new = [seq for seq in dict.fromkeys(packet.lost) if seq not in nacked]
                nacked.update(dict.fromkeys(new))
                for old in list(nacked)[: max(0, len(nacked) - NACKED_MEMORY)]:
                    del nacked[old]
                if new:
                    report(nacked=len(new))
        elif isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for block in packet.reports:
                if block.ssrc == sender._ssrc:
                    # The report answers the sender report sent at lsr_time, held dlsr/65536 s at the receiver.
                    lsr, lsr_time = sent_at
                    rtt = None
                    if lsr is not None and lsr == block.lsr and block.dlsr and lsr_time is not None:
                        rtt = max(0.0, received_at - lsr_time - block.dlsr / 65536)
                    report(loss=block.fraction_lost / 256, rtt_s=rtt)

    sender._handle_rtcp_packet = handle_and_report  # type: ignore[method-assign]
    sender._samhandling_watched = True  # type: ignore[attr-defined]


class LayeredTrack(Protocol):
    layer: Layer
    bytes_sent: int

    def set_layer(self, layer: Layer) -> None: ...


class ReceiverLink:
    """The layer policy of one participant's connection, applied to the video streams it receives."""

    def __init__(
        self,
        streams: Callable[[], Iterable[tuple[int, LayeredTrack]]],
        on_audio_only: Callable[[bool], object] = lambda _on: None,
        clock: Callable[[], float] = time.monotonic,
        pad: Pad | None = None,
        ping: Ping | None = None,
    ) -> None:
        self.policy = LinkPolicy(pads=pad is not None)
        self._pad = pad
        self._ping = ping
        self._padding: asyncio.Future[None] | None = None
        self._pinging: asyncio.Future[None] | None = None
        """The measurement's two tasks (padding and pings), owned here: started when it begins, ended with it."""
        self.padding_bytes = 0
        self._streams = streams
        self._estimates: dict[frozenset[int], float] = {}
        """The last estimate of each set of streams a receiver estimates together."""
        self._sending: frozenset[int] = frozenset()
        """SSRCs of the streams that carried video in the last measurement."""
        self._track_bytes: dict[int, int] = {}
        """Each stream's bytes sent at the last measurement (what was sent since is measured per stream: a slot
        whose track was replaced starts again at 0 without taking the others' bytes with it)."""
        self._on_audio_only = on_audio_only
        self._clock = clock
        self._last_at = clock()
        self.policy.changed_at = self._last_at
        self.audio_only = False
        """Told to the participant: their link carries no video now (not their own choice)."""

    @property
    def layer(self) -> Layer:
        return self.policy.effective

    def _tracks(self) -> list[LayeredTrack]:
        return [track for _, track in self._streams()]

    def report(self, ssrcs: frozenset[int] | None = None, **signals: float | None) -> None:
        """Feedback from one sender. An estimate counts only when it covers every stream that carries video:
        browsers estimate the whole connection, but some receivers (aiortc) estimate each stream on its own,
        and one stream's estimate said nothing about the link. A fall of any of them still says its estimator
        saw a queue start (reported as ``estimate_fell``)."""
        estimate = signals.pop("estimate_bps", None)
        fell = False
        if estimate is not None and ssrcs is not None:
            before = self._estimates.get(ssrcs)
            fell = before is not None and estimate < 0.95 * before
            if len(self._estimates) < MAX_ESTIMATED_SETS or ssrcs in self._estimates:
                self._estimates[ssrcs] = estimate
            if self._sending and self._sending <= ssrcs:
                signals["estimate_bps"] = estimate
        self.policy.report(estimate_fell=fell, **signals)
        self._decide_while_measuring()

    def queue_seen(self) -> None:
        """Pings during the measurement waited in a queue: it ends now."""
        self.policy.queue_seen()
        self._decide_while_measuring()

    def _decide_while_measuring(self) -> None:
        if self.policy.measuring and not self.policy.chosen_audio_only:
            # A measurement congests the link while it lasts: ended on the report that says so, not at the next tick.
            self._apply(self.policy.decide(self._video_streams(), self._clock()), chosen=False)

    def choose_audio_only(self, on: bool) -> None:
        self._apply(self.policy.choose_audio_only(on), chosen=True)

    def tick(self) -> None:
        """About twice a second: measure what is sent, let the policy decide, apply a change."""
        streams = list(self._streams())
        tracks = [t for _, t in streams]
        now = self._clock()
        sent = {ssrc: max(0, t.bytes_sent - self._track_bytes.get(ssrc, 0)) for ssrc, t in streams}
        if now > self._last_at:
            self.policy.report(sending_bps=sum(sent.values()) * 8 / (now - self._last_at))
        self._last_at = now
        self._sending = frozenset(ssrc for ssrc, t in streams if t.layer is not Layer.NONE and sent[ssrc])
        self._track_bytes = {ssrc: t.bytes_sent for ssrc, t in streams}
        if not self.policy.chosen_audio_only:
            self._apply(self.policy.decide(self._video_streams(tracks), now), chosen=False)
            self._run_measurement()

    def _run_measurement(self) -> None:
        """While the room is measured: the pings watch the queue, and while padding, the padding goes out."""
        if self._ping is not None and self.policy.measuring and _idle(self._pinging):
            self._pinging = asyncio.ensure_future(self._ping(lambda: self.policy.measuring, self.queue_seen))
        if self._pad is not None and self.policy.padding_since is not None and _idle(self._padding):
            self._padding = asyncio.ensure_future(self._pad_while_measuring(self._pad))

    async def _pad_while_measuring(self, pad: Pad) -> None:
        """Every :data:`PAD_STEP_S`, pad up to the policy's target; the media sent meanwhile counts."""
        owed = 0.0
        last, last_bytes = self._clock(), sum(t.bytes_sent for t in self._tracks())
        while True:
            await asyncio.sleep(PAD_STEP_S)
            now = self._clock()
            target = self.policy.padding_target_bps(self._video_streams(), now)
            if target is None:
                return
            sent = sum(t.bytes_sent for t in self._tracks())
            owed += target * (now - last) / 8 - max(0, sent - last_bytes)
            last, last_bytes = now, sent
            owed = min(max(owed, -PAD_BURST_BYTES), PAD_BURST_BYTES)
            if owed > 0:
                done = await pad(int(owed))
                self.padding_bytes += done
                owed -= done

    def close(self) -> None:
        for task in (self._padding, self._pinging):
            if task is not None:
                task.cancel()

    def _video_streams(self, tracks: list[LayeredTrack] | None = None) -> int:
        """The streams that carry video to this receiver: those that sent in the last measurement (a slot whose
        sender shows nothing, or a card now and then, does not count), else every one not audio only."""
        if self._sending:
            return len(self._sending)
        tracks = self._tracks() if tracks is None else tracks
        return sum(1 for t in tracks if t.layer is not Layer.NONE) or len(tracks)

    def _apply(self, layer: Layer | None, chosen: bool) -> None:
        if layer is None:
            return
        for track in self._tracks():
            track.set_layer(layer)
        if not chosen and (layer is Layer.NONE) != self.audio_only:
            self.audio_only = layer is Layer.NONE
            self._on_audio_only(self.audio_only)


def _idle(task: asyncio.Future[None] | None) -> bool:
    return task is None or task.done()
