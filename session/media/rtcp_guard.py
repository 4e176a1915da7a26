"""Bounds on what a receiver's RTCP feedback can make the server do.

aiortc's sender answers every NACKed sequence number with a retransmission and every PLI/FIR with a keyframe,
at once and without limit. A broken or hostile receiver can therefore make the server send its whole
retransmission history over and over (a NACK names up to 17 packets per 4 bytes), or make a per-receiver
encoder produce nothing but keyframes. :func:`guard_video_sender` wraps those two entry points of one sender:
retransmissions come out of a token bucket (and one sequence number is resent at most once per
:data:`RESEND_SPACING_S`), keyframe requests are coalesced to one per ``MIN_KEYFRAME_INTERVAL_S``.
Malformed RTCP never gets this far: aiortc drops what does not parse (and SRTP what is not authentic).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCRtpSender

from session.media.keyframes import MIN_KEYFRAME_INTERVAL_S

RETRANSMIT_RATE = 300.0
"""Packets per second one sender may resend: about twice a 900 kbit/s stream's own packet rate at 20 % loss."""
RETRANSMIT_BURST = 150.0
RESEND_SPACING_S = 0.02

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

    def allow(self, seq: int, now: float) -> bool:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if now - self.last_sent.get(seq, -1e9) < RESEND_SPACING_S or self.tokens < 1:
            return False
        self.tokens -= 1
        if len(self.last_sent) > 4096:  # sequence numbers wrap; keep only recent ones
            self.last_sent = {s: t for s, t in self.last_sent.items() if now - t < 1.0}
        self.last_sent[seq] = now
        return True


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
        if budget.allow(seq, clock()):
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

    sender._retransmit = limited_retransmit  # type: ignore[method-assign,assignment]
    sender._send_keyframe = keyframe  # type: ignore[method-assign]
    sender._samhandling_guarded = True  # type: ignore[attr-defined]
