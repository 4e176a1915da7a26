"""A receiver that floods PLIs and NACKs or sends RTCP garbage: the server's work stays bounded, media flows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc.rtp import RTCP_PSFB_PLI, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket

from session.media.rtcp_guard import (
    EARNED_BURST,
    RESEND_SPACING_S,
    RETRANSMIT_BURST,
    RETRANSMIT_RATE,
    RETRANSMIT_SHARE,
    RetransmitBudget,
)
from session.media.rtp_receive import install
from tests.session.lossy_link import FPS, Link, Loss, lossy_link, receive


def test_the_retransmission_budget_bounds_a_flood_and_spaces_repeats() -> None:
    budget = RetransmitBudget()
    allowed = sum(budget.allow(seq % 65536, now=i / 10000) for i, seq in enumerate(range(10000)))  # 1 s of flood
    assert allowed <= RETRANSMIT_BURST + RETRANSMIT_RATE + 1
    budget = RetransmitBudget()
    assert budget.allow(7, 0.0) and not budget.allow(7, RESEND_SPACING_S / 2) and budget.allow(7, RESEND_SPACING_S)


def test_one_packet_is_resent_at_most_once_per_round_trip() -> None:
    """Behind a queue the answer to a NACK takes the round trip: asking again sooner only doubles the load."""
    budget = RetransmitBudget()
    assert budget.allow(7, 0.0, rtt_s=0.25)
    assert not budget.allow(7, 0.1, rtt_s=0.25) and not budget.allow(7, 0.2, rtt_s=0.25)
    assert budget.allow(7, 0.25, rtt_s=0.25)


def test_on_a_short_round_trip_a_packet_lost_again_is_resent_again_within_milliseconds() -> None:
    """The receiver asks again about 1.5 round trips after its NACK: a resend refused for tens of milliseconds
    on a 1 ms link would make that retry, and the frame waiting for it, wait as long."""
    budget = RetransmitBudget()
    assert budget.allow(7, 0.0, rtt_s=0.001)
    assert budget.allow(7, 0.008, rtt_s=0.001)


def test_retransmissions_are_earned_by_what_the_stream_sends() -> None:
    """A capped link lost 150 packets of a probe while its receiver was moved down to 30 packets a second: the
    repairs may not offer it three times what it carries (they took the new layer's room for seconds)."""
    budget = RetransmitBudget()
    budget.sent(1000)
    resent = 0
    for i in range(150):  # the probe's losses, each NACKed, over one second
        budget.sent(1000 + i // 5)  # 30 packets a second are sent meanwhile
        resent += budget.allow(i, now=i / 150, rtt_s=0.01)
    assert resent <= EARNED_BURST + 30 * RETRANSMIT_SHARE + 1
    assert resent >= EARNED_BURST  # a keyframe's worth of repairs is always there


@pytest.fixture
async def link() -> AsyncIterator[Link]:
    install()
    link = await lossy_link(Loss())
    yield link
    await link.close()


async def test_floods_and_garbage_from_a_receiver_do_not_stop_or_swamp_the_stream(link: Link) -> None:
    assert len(await receive(link, 1.0)) >= FPS // 2
    transport = link.receiver.getTransceivers()[0].receiver.transport
    ssrc = link.rtp_sender._ssrc
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=ssrc)
    history = link.rtp_sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
    nack.lost = sorted(p.sequence_number for p in history.values())  # everything the sender still has
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=ssrc)
    keyframes_before = link.encoder.keyframes
    for _ in range(200):
        await transport._send_rtp(bytes(nack))
        await transport._send_rtp(bytes(pli))
        await transport._send_rtp(b"\x81\xc9\x00\x07" + b"\xff" * 28)  # an RR that lies about its length
    after = await receive(link, 2.0)
    assert len(after) >= FPS  # still flowing
    assert link.events["keyframe_request"] >= 20  # the PLIs arrived (a flood loses some on loopback too) ...
    assert link.encoder.keyframes - keyframes_before <= 6  # ... and became at most one keyframe per 0.5 s
    # 200 NACKs for the whole history: only the budget's worth was resent.
    assert link.events["retransmission"] <= RETRANSMIT_BURST + RETRANSMIT_RATE * 4
    assert link.events["retransmission_refused"] > 0


async def test_probes_for_packets_not_sent_yet_spend_nothing(link: Link) -> None:
    """Receivers' tail probes ask for the packets after the newest they have, which the sender may not have sent
    yet. Such requests must not use up the retransmissions the stream has earned: the packets' real losses,
    moments later, would be refused."""
    assert len(await receive(link, 1.0)) >= FPS // 2
    transport = link.receiver.getTransceivers()[0].receiver.transport
    history = link.rtp_sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
    newest = max(p.sequence_number for p in history.values())
    future = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=link.rtp_sender._ssrc)
    future.lost = [(newest + 200 + i) % 65536 for i in range(2 * int(EARNED_BURST))]
    for _ in range(3):
        await transport._send_rtp(bytes(future))
    await receive(link, 0.3)
    assert link.events["retransmission"] == 0 and link.events["retransmission_refused"] == 0
    sent = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=link.rtp_sender._ssrc)
    sent.lost = sorted(p.sequence_number for p in history.values())[-10:]  # real losses of packets it sent
    await transport._send_rtp(bytes(sent))
    await receive(link, 0.3)
    assert link.events["retransmission"] == 10 and link.events["retransmission_refused"] == 0
