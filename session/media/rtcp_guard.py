"""Bounds on what a receiver's RTCP feedback can make the server do.

aiortc's sender answers every NACKed sequence number with a retransmission and every PLI/FIR with a keyframe,
at once and without limit. A broken or hostile receiver can therefore make the server send its whole
retransmission history over and over (a NACK names up to 17 packets per 4 bytes), or make a per-receiver
encoder produce nothing but keyframes. :func:`guard_video_sender` wraps those two entry points of one sender:
retransmissions come out of a token bucket (and one sequence number is resent at most once per
:data:`RESEND_SPACING_S`), keyframe requests are coalesced to one per ``MIN_KEYFRAME_INTERVAL_S``.

The bucket is also what keeps loss on a congested link from turning into more congestion. A receiver behind a
rate cap that was sent more than it carries (the start of a call, a probe of the higher layer) loses a hundred
packets or more at once; resending each of them every time it is asked (aiortc's receivers asked up to eight
times, every 75 ms) offered the link three times what it carries for seconds after the layer went down, so the
new layer's packets were lost too. So one sequence number is resent at most once per round trip to this
receiver (an answer cannot have arrived sooner: as libwebrtc does), and retransmissions must be earned by the
stream itself: each packet sent earns :data:`RETRANSMIT_SHARE` of one, so repairs never take more than that
share on top of what the receiver's layer sends.
Malformed RTCP never gets this far: aiortc drops what does not parse (and SRTP what is not authentic).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCRtpSender
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket

from session.media.keyframes import MIN_KEYFRAME_INTERVAL_S

RETRANSMIT_RATE = 300.0
"""Packets per second one sender may resend: about twice a 900 kbit/s stream's own packet rate at 20 % loss."""
RETRANSMIT_BURST = 150.0
RESEND_SPACING_S = 0.005
"""The least time between two resends of one packet (the round trip, when it is longer, is used instead). As low
as the receivers' own retry floor (:data:`session.media.rtp_receive.NACK_RTT_S`): a resend refused there leaves
the frame waiting for the receiver's next, twice as long, retry."""
RETRANSMIT_SHARE = 0.5
"""Retransmissions per packet the stream sends: random loss of 5 % needs a tenth of this."""
EARNED_BURST = 40.0
"""Earned retransmissions that can be saved up: a keyframe's lost packets at 900 kbit/s."""

Clock = Callable[[], float]
Event = Callable[[str], None]


@dataclass(slots=True)
class RetransmitBudget:
    """Token bucket plus a per-packet spacing; pure, ``now`` is passed in."""

    rate: float = RETRANSMIT_RATE
    burst: float = RETRANSMIT_BURST
    tokens: float = RETRANSMIT_BURST
    updated: float | None = None
    last_sent: dict[int, float] = field(default_factory=dict)
    earned: float = EARNED_BURST
    """Retransmissions the stream's own packets have paid for (see :data:`RETRANSMIT_SHARE`)."""
    packets_seen: int | None = None

    def sent(self, packets: int) -> None:
        """The stream's count of packets sent so far (not retransmissions): each new one earns a share."""
        if self.packets_seen is not None and packets > self.packets_seen:
            self.earned = min(EARNED_BURST, self.earned + (packets - self.packets_seen) * RETRANSMIT_SHARE)
        self.packets_seen = packets

    def allow(self, seq: int, now: float, rtt_s: float | None = None) -> bool:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        spacing = max(RESEND_SPACING_S, rtt_s or 0.0)
        if now - self.last_sent.get(seq, -1e9) < spacing or self.tokens < 1 or self.earned < 1:
            return False
        self.tokens -= 1
        self.earned -= 1
        if len(self.last_sent) > 4096:  # sequence numbers wrap; keep only recent ones
            self.last_sent = {s: t for s, t in self.last_sent.items() if now - t < 1.0}
        self.last_sent[seq] = now
        return True


def has_sent(sender: RTCRtpSender, seq: int) -> bool:
    """Whether ``sender`` still holds packet ``seq`` in its retransmission history (as aiortc's ``_retransmit``
    looks it up). Receivers' tail probes ask for the packets after the newest they have, which the sender may
    not have sent yet: such a request must neither spend the budget nor count as a resend of that number (the
    packet's real loss, moments later, would then be refused for a round trip)."""
    history: dict[int, RtpPacket] = getattr(sender, "_RTCRtpSender__rtp_history", {})
    packet = history.get(seq % RTP_HISTORY_SIZE)
    return packet is not None and packet.sequence_number == seq


def guard_video_sender(
    sender: RTCRtpSender,
    request_keyframe: Callable[[], None] | None = None,
    on_event: Event | None = None,
    clock: Clock = time.monotonic,
) -> None:
    """Route ``sender``'s PLI/FIR to ``request_keyframe`` (the shared encoder, itself rate-limited) or, for a
    sender with its own encoder, coalesce them; put its retransmissions on a budget. Idempotent per sender."""
    sender._samhandling_keyframe = request_keyframe  # type: ignore[attr-defined]  # changes with replaceTrack
    if getattr(sender, "_samhandling_guarded", False):
        return
    count: Event = on_event or (lambda _event: None)
    budget = RetransmitBudget()
    retransmit = sender._retransmit
    own_keyframe = sender._send_keyframe
    pending: list[asyncio.TimerHandle] = []
    last: list[float] = []

    async def limited_retransmit(seq: int) -> None:
        if not has_sent(sender, seq):
            return  # a probe for a packet not sent (yet): nothing to resend, so nothing spent or remembered
        budget.sent(getattr(sender, "_RTCRtpSender__packet_count", 0))
        if budget.allow(seq, clock(), getattr(sender, "_RTCRtpSender__rtt", None)):
            count("retransmission")
            await retransmit(seq)
        else:
            count("retransmission_refused")

    def keyframe() -> None:
        count("keyframe_request")
        shared: Callable[[], None] | None = sender._samhandling_keyframe  # type: ignore[attr-defined]
        if shared is not None:
            shared()
            return
        now = clock()
        if not last or now - last[0] >= MIN_KEYFRAME_INTERVAL_S:
            last[:] = [now]
            own_keyframe()
        elif not pending:  # one deferred keyframe answers every request inside the interval
            count("keyframe_request_coalesced")

            def fire() -> None:
                pending.clear()
                last[:] = [clock()]
                own_keyframe()

            pending.append(asyncio.get_running_loop().call_later(MIN_KEYFRAME_INTERVAL_S - (now - last[0]), fire))
        else:
            count("keyframe_request_coalesced")

    sender._samhandling_resend = retransmit  # type: ignore[attr-defined]  # padding resends past the budget
    sender._retransmit = limited_retransmit  # type: ignore[method-assign,assignment]
    sender._send_keyframe = keyframe  # type: ignore[method-assign]
    sender._samhandling_guarded = True  # type: ignore[attr-defined]
