"""Padding that measures a link: resends of the newest video packets, which every receiver drops as duplicates.

The link policy measures the room for the high layer before switching to it (:mod:`session.media.link_policy`):
the low layer goes on, and copies of its newest packets raise what the link is sent. RTX resends are what a
receiver already handles (an answered NACK twice), need nothing negotiated beyond what loss recovery uses, and
go the way the media goes, through the same queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiortc import RTCRtpSender

RTP_OVERHEAD_BYTES = 14
"""RTP header and the RTX original sequence number, beside the payload."""


def newest_packets(sender: RTCRtpSender, count: int) -> list[Any]:
    """Up to ``count`` packets of the newest frame(s) in ``sender``'s history, newest first."""
    history: dict[int, Any] = getattr(sender, "_RTCRtpSender__rtp_history", {})
    packets = sorted(history.values(), key=lambda p: (p.timestamp, p.sequence_number), reverse=True)
    return packets[:count]


async def send_padding(senders: Sequence[RTCRtpSender], budget: int) -> int:
    """Resend newest packets of ``senders`` in turn until about ``budget`` bytes went out; the bytes sent."""
    queues = [newest_packets(s, 8) for s in senders]
    sent = 0
    while sent < budget and any(queues):
        for sender, queue in zip(senders, queues, strict=True):
            if not queue or sent >= budget:
                continue
            packet = queue.pop(0)
            resend = getattr(sender, "_samhandling_resend", sender._retransmit)
            await resend(packet.sequence_number)
            sent += len(packet.payload) + RTP_OVERHEAD_BYTES
    return sent
