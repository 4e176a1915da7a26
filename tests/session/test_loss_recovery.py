"""Packet loss on a real aiortc link carrying the shared encoder's packets: retransmission, keyframe recovery.

Plain aiortc fails both: with several video receivers on one BUNDLE transport it throws retransmissions away,
and a packet that never arrives holds every later frame until 512 packets have piled up behind it.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import AsyncIterator

import pytest

from session.media.rtp_receive import install
from tests.session.lossy_link import FPS, Arrival, Link, Loss, lossy_link, receive

SETTLE_S = 1.0


@pytest.fixture(autouse=True)
def receive_layer() -> None:
    install()


@pytest.fixture
async def closing() -> AsyncIterator[list[Link]]:
    links: list[Link] = []
    yield links
    for link in links:
        await link.close()


def worst_five(got: list[Arrival]) -> list[float]:
    """The five largest delays beyond the usual one, once the link has settled: the losses of these tests come
    after the first second. The first frames' delays depend on how fast the connection started (the decoder's
    start, the first keyframe), which in a module's run varied by up to 140 ms and passed for recovery time."""
    settled = [a for a in got if a.at >= got[0].at + SETTLE_S]
    usual = statistics.median(a.delay for a in settled)
    return sorted(a.delay - usual for a in settled)[-5:]


async def test_lost_packets_are_retransmitted_to_one_of_several_bundled_video_receivers(closing: list[Link]) -> None:
    loss = Loss(media_index={40, 61, 90, 133, 170, 171, 230})
    link = await lossy_link(loss, extra_video_receivers=2)
    closing.append(link)
    got = await receive(link, 4.0)
    assert loss.dropped >= 5  # the loss happened
    numbers = [a.frame for a in got]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 3 * FPS  # every frame, in order: all resent
    assert link.encoder.keyframes == 1  # retransmission sufficed, nobody asked for a keyframe
    assert max(a.delay for a in got) < 0.5


async def test_a_packet_lost_for_good_costs_a_keyframe_not_a_growing_delay(closing: list[Link]) -> None:
    loss = Loss(forever={60})
    link = await lossy_link(loss)
    closing.append(link)
    got = await receive(link, 5.0)
    assert loss.dropped >= 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert max(gaps) < 1.5  # plain aiortc: no frame for 512 packets (tens of seconds at this size)
    assert link.encoder.keyframes >= 2  # the receiver's PLI reached the shared encoder
    late = [a.delay for a in got if a.at > got[-1].at - 1.5]
    assert len(late) >= FPS and max(late) < 0.5  # caught up: the last frames are not behind


async def test_a_frame_whose_last_packet_is_lost_is_not_held_until_the_next_frame(closing: list[Link]) -> None:
    """Tail loss: nothing after the lost marker packet shows the gap until the next frame starts, a frame
    interval later; the receiver's tail probe asks for it after a short silence instead."""
    loss = Loss(marker_index={20, 28, 36, 44, 52})
    link = await lossy_link(loss)
    closing.append(link)
    got = await receive(link, 4.5)
    assert loss.dropped == 5
    numbers = [a.frame for a in got]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 3 * FPS  # every frame, recovered
    worst = worst_five(got)
    assert max(worst) < 0.8 / FPS, worst  # without the probe: a whole frame interval (1 / FPS) and more


async def test_a_frame_lost_whole_is_asked_for_when_the_next_frame_is_overdue(closing: list[Link]) -> None:
    """A frame lost whole leaves nothing open: the gap shows only when the next frame arrives, a frame interval
    later. The receiver's probe asks for it a few packet gaps after the next frame was due instead."""
    loss = Loss(frame_index={20, 28, 36, 44, 52})
    link = await lossy_link(loss)
    closing.append(link)
    got = await receive(link, 4.5)
    assert loss.dropped >= 5
    numbers = [a.frame for a in got]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 3 * FPS  # every frame, recovered
    worst = worst_five(got)
    assert max(worst) < 0.8 / FPS, worst  # without the probe: a whole frame interval (1 / FPS) and more


async def test_a_packet_whose_retransmission_is_lost_too_is_asked_for_again_without_waiting_for_the_next_frame(
    closing: list[Link],
) -> None:
    """The NACK's answer is lost as well. The retry is due a round trip and a half later, but a receiver that only
    looks at its NACKs when a packet arrives asks again only when the next frame begins, a frame interval on.
    Single losses first teach the receiver the link's round trip (its first guess is 50 ms)."""
    loss = Loss(media_index=set(range(10, 100, 6)), first_twice={20, 26, 32, 38, 44})
    link = await lossy_link(loss)
    closing.append(link)
    got = await receive(link, 4.5)
    numbers = [a.frame for a in got]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 3 * FPS  # every frame, recovered
    assert link.events["retransmission"] >= 15 + 10  # the single losses once, the five twice
    worst = worst_five(got)
    # Without the retry timer each of the five is a frame interval late (67 ms); with it about 34 ms.
    assert max(worst) < 0.8 / FPS, worst
