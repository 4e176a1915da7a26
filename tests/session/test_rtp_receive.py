"""The receive layer over aiortc: complete frames leave at once, unrecoverable gaps are skipped, NACKs retry."""

from __future__ import annotations

import itertools

import pytest
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

from session.media.rtp_receive import (
    HOLE_DEADLINE_S,
    NACK_FOR_S,
    NACK_TRIES,
    QUEUEING_S,
    FrameJitterBuffer,
    RetryingNackGenerator,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def packet(seq: int, timestamp: int, marker: bool = False) -> RtpPacket:
    p = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp)
    p.marker = int(marker)
    p._data = bytes([seq % 256])  # type: ignore[attr-defined]  # what aiortc's depayloader sets
    return p


def frame(first: int, count: int, timestamp: int) -> list[RtpPacket]:
    return [packet(first + i, timestamp, marker=i == count - 1) for i in range(count)]


def feed(buffer: JitterBuffer, packets: list[RtpPacket]) -> tuple[list[JitterFrame], int]:
    frames, plis = [], 0
    for p in packets:
        pli, out = buffer.add(p)
        plis += pli
        if out is not None:
            frames.append(out)
    return frames, plis


def test_a_complete_frame_leaves_with_its_marker_packet() -> None:
    buffer = FrameJitterBuffer(capacity=128, is_video=True)
    frames, plis = feed(buffer, frame(1000, 3, 9000))
    assert [f.timestamp for f in frames] == [9000] and frames[0].data == bytes([232, 233, 234]) and plis == 0


def test_plain_aiortc_holds_the_same_frame_until_the_next_one_starts() -> None:
    """Why the layer exists: this is the frame interval per hop that the test above removes."""
    plain = JitterBuffer(capacity=128, is_video=True)
    assert feed(plain, frame(1000, 3, 9000))[0] == []
    assert [f.timestamp for f in feed(plain, [packet(1003, 15000)])[0]] == [9000]


def test_reordered_packets_complete_the_frame_when_the_last_one_arrives() -> None:
    buffer = FrameJitterBuffer(capacity=128, is_video=True)
    a, b, c = frame(7, 3, 1)
    assert feed(buffer, [a, c])[0] == []
    assert [f.data for f in feed(buffer, [b])[0]] == [bytes([7, 8, 9])]


def test_a_retransmission_within_the_deadline_releases_the_waiting_frames_in_order() -> None:
    clock = Clock()
    buffer = FrameJitterBuffer(capacity=128, is_video=True, clock=clock)
    first, second, third = frame(0, 3, 0), frame(3, 3, 6000), frame(6, 3, 12000)
    lost = second[1]
    out, _ = feed(buffer, [*first, second[0], second[2], *third])
    assert [f.timestamp for f in out] == [0]
    clock.now += HOLE_DEADLINE_S / 2
    out, plis = feed(buffer, [lost, packet(9, 18000)])  # the next packet arrival drains the second ready frame
    assert [f.timestamp for f in out] == [6000, 12000] and plis == 0


def test_a_gap_that_outlives_the_deadline_is_skipped_with_one_keyframe_request() -> None:
    clock = Clock()
    buffer = FrameJitterBuffer(capacity=128, is_video=True, clock=clock)
    first, second, third, fourth = frame(0, 3, 0), frame(3, 3, 6000), frame(6, 3, 12000), frame(9, 3, 18000)
    out, _ = feed(buffer, first + second[1:] + third)  # second[0] never comes back
    assert [f.timestamp for f in out] == [0]
    clock.now += HOLE_DEADLINE_S + 0.01
    out, plis = feed(buffer, fourth)
    assert [f.timestamp for f in out] == [12000, 18000]  # the damaged frame is never handed to the decoder
    assert plis == 1 and buffer.skipped_gaps == 1


def test_damaged_frames_in_a_row_are_skipped_together_not_one_deadline_after_another() -> None:
    """A congested link damages several frames in a row. Each gap is overdue one deadline after it showed; the
    frame after them must not wait another deadline for every gap before it (five gaps were 1.25 s of delay)."""
    clock = Clock()
    buffer = FrameJitterBuffer(capacity=256, is_video=True, clock=clock)
    damaged = [frame(3 * i, 3, 6000 * i) for i in range(1, 6)]
    out, _ = feed(buffer, frame(0, 3, 0) + [p for f in damaged for p in (f[0], f[2])])  # each lost one packet
    assert [f.timestamp for f in out] == [0]
    clock.now += HOLE_DEADLINE_S + 0.01
    out, plis = feed(buffer, frame(18, 3, 36000))
    assert [f.timestamp for f in out] == [36000] and plis == 1 and buffer.skipped_gaps == 5


def test_audio_keeps_aiortcs_behaviour() -> None:
    buffer, plain = FrameJitterBuffer(capacity=16, prefetch=4), JitterBuffer(capacity=16, prefetch=4)
    packets = [packet(i, i * 960, marker=True) for i in range(12)]
    assert [f.timestamp for f in feed(buffer, packets)[0]] == [f.timestamp for f in feed(plain, packets)[0]]


def test_nacks_are_repeated_each_round_trip_until_the_packet_arrives() -> None:
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    assert not nacks.add(packet(10, 0))
    assert nacks.add(packet(12, 0)) and nacks.missing == {11}
    clock.now += 0.01
    assert not nacks.add(packet(13, 0))  # asked a moment ago
    clock.now += 0.2
    assert nacks.add(packet(14, 0)) and nacks.missing == {11}  # the NACK or its answer was lost: ask again
    nacks.add(packet(11, 0))
    clock.now += 1
    assert not nacks.add(packet(15, 0))


def asks_for(nacks: RetryingNackGenerator, clock: Clock, lost: int, until: float, step: float = 0.005) -> list[float]:
    """Packets after ``lost`` arrive every ``step`` s until ``until`` s from now; when ``lost`` was NACKed."""
    start, asked, seq = clock.now, [], lost + 1
    while clock.now - start < until:
        if nacks.add(packet(seq, 0)) and lost in nacks.missing:
            asked.append(round(clock.now - start, 3))
        clock.now += step
        seq += 1
    return asked


def test_a_packet_is_asked_for_a_bounded_number_of_times_and_never_after_the_deadline() -> None:
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    nacks.add(packet(0, 0))
    asked = asks_for(nacks, clock, 1, until=2.0)
    assert 2 <= len(asked) <= NACK_TRIES
    assert asked[-1] < NACK_FOR_S  # the jitter buffer skips its frame then: an answer would be of no use
    gaps = [b - a for a, b in itertools.pairwise(asked)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps))  # each wait is longer


def test_an_answer_delayed_by_a_queue_is_not_asked_for_again_and_again() -> None:
    """A link that starts queueing: the answer to the first NACK takes 200 ms instead of the 50 ms measured so
    far. Each extra NACK is a retransmission on the congested link: one retry is the most that is useful."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    nacks.add(packet(0, 0))
    asked = asks_for(nacks, clock, 1, until=0.2, step=0.01)
    nacks.add(packet(1, 0))  # the answer
    assert len(asked) <= 2


def answered_after(answer_s: float) -> tuple[RetryingNackGenerator, Clock]:
    """A receiver that has seen every other packet of 200 lost, each answered ``answer_s`` after its NACK."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    nacks.add(packet(0, 0))
    for gap in range(2, 200, 2):
        nacks.add(packet(gap, 0))
        clock.now += answer_s
        nacks.add(packet(gap - 1, 0))
    return nacks, clock


def test_the_retry_interval_follows_the_measured_round_trip() -> None:
    nacks, _ = answered_after(0.03)
    assert abs(nacks.rtt - 0.03) < 0.005


def test_on_a_short_round_trip_a_lost_answer_is_asked_for_again_within_milliseconds() -> None:
    """A LAN or loopback answers a NACK in about a millisecond. A retry held to tens of milliseconds there was most
    of the relay's latency tail at 5 % loss (a NACK or its answer lost on either hop: 30 ms, then 60 ms more)."""
    nacks, clock = answered_after(0.001)
    lost = 200
    nacks.add(packet(lost - 1, 0))
    asked = asks_for(nacks, clock, lost, until=0.03, step=0.001)
    assert asked[0] == 0.0 and 0.0 < asked[1] <= 0.01


def test_a_gap_inside_the_front_frame_is_skipped_too() -> None:
    clock = Clock()
    buffer = FrameJitterBuffer(capacity=128, is_video=True, clock=clock)
    first, second = frame(0, 4, 0), frame(4, 3, 6000)
    feed(buffer, [first[0], first[1], first[3], *second[:2]])  # first[2] never comes back
    clock.now += HOLE_DEADLINE_S + 0.01
    out, plis = feed(buffer, second[2:])
    assert [f.timestamp for f in out] == [6000] and plis == 1


def test_padding_packets_between_frames_are_no_frames() -> None:
    """Browsers probe bandwidth with payload-less packets that carry the previous frame's timestamp."""
    buffer = FrameJitterBuffer(capacity=128, is_video=True)
    padding = packet(3, 0)
    padding._data = b""  # type: ignore[attr-defined]
    out, plis = feed(buffer, [*frame(0, 3, 0), padding, *frame(4, 2, 6000)])
    assert [f.timestamp for f in out] == [0, 6000] and all(f.data for f in out) and plis == 0


def test_a_frame_whose_last_packet_is_lost_is_probed_after_a_short_silence() -> None:
    """Tail loss: no later packet shows the gap, so the receiver asks for what follows the newest packet."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    for p in frame(1000, 3, 9000)[:2]:  # the marker packet 1002 is lost
        p.payload = b"x"
        nacks.add(p)
        clock.now += 0.002
    assert nacks.tail.due() == []  # not yet: the frame may still be arriving
    clock.now += nacks.tail.wait()
    assert nacks.tail.due() == [1002, 1003]
    assert nacks.tail.due() == []  # not again at once: the answer has a round trip to come
    clock.now += nacks.tail.retry_after()
    assert nacks.tail.due() == [1002, 1003]  # the probe or its answer was lost: once more
    clock.now += 1.0
    assert nacks.tail.due() == []  # then the next frame's first packet shows the gap
    assert nacks.tail.probes == 2


def test_a_complete_frame_and_a_padding_packet_are_never_probed() -> None:
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    for p in frame(1000, 3, 9000):
        p.payload = b"x"
        nacks.add(p)
    clock.now += 1.0
    assert nacks.tail.due() == []
    padding = packet(1003, 9000)
    padding.payload = b""
    nacks.add(padding)
    clock.now += 1.0
    assert nacks.tail.due() == []


def one_packet_frames(nacks: RetryingNackGenerator, clock: Clock, count: int, late_by: float = 0.0) -> None:
    """``count`` one-packet frames 6000 ticks (67 ms at 90 kHz) apart, each arriving ``late_by`` later than the
    one before would put it; the clock stops at the last one's arrival."""
    for k in range(count):
        p = packet(1000 + k, 9000 + 6000 * k, marker=True)
        p.payload = b"x"
        nacks.add(p)
        if k < count - 1:
            clock.now += 6000 / 90000 + late_by


def test_a_frame_lost_whole_is_probed_once_the_next_frame_is_overdue() -> None:
    """A still picture's frames are one packet each: one lost leaves no open frame, and without a probe the gap
    shows only when the frame after it arrives, a frame interval later."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    one_packet_frames(nacks, clock, 4)
    assert nacks.tail.frame_interval() == 6000 / 90000
    clock.now += 6000 / 90000  # the next frame is due now: not yet probed, it may be on its way
    assert nacks.tail.due() == []
    clock.now += nacks.tail.wait()
    assert nacks.tail.due() == [1004, 1005]
    clock.now += nacks.tail.retry_after()
    assert nacks.tail.due() == [1004, 1005]
    clock.now += 1.0
    assert nacks.tail.due() == []  # probed out: a sender that stopped is not asked again and again


def test_a_frame_as_late_as_recent_frames_were_is_not_probed_yet() -> None:
    """A capped link holds one stream's frame back while another stream's large frame drains ahead of it: the
    frames of the last seconds arrived up to 40 ms late. A frame that late is on its way; a probe would send
    its packets into that link twice."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    interval = 6000 / 90000
    for k in range(9):
        clock.now = 1.0 + k * interval + (0.04 if k % 4 == 3 else 0.0)
        p = packet(1000 + k, 9000 + 6000 * k, marker=True)
        p.payload = b"x"
        nacks.add(p)
    assert not nacks.tail.queueing() and abs(nacks.tail.lateness() - 0.04) < 1e-6
    clock.now += interval + nacks.tail.wait() + 0.03  # the next frame is 30 ms later than the usual probe
    assert nacks.tail.due() == []
    clock.now += 0.01
    assert nacks.tail.due() == [1009, 1010]


def test_one_frame_that_was_late_once_does_not_hold_the_probe_back() -> None:
    """The first keyframe took 50 ms longer to encode than the frames after it: that is no habit of the link,
    and a frame lost whole later is probed as soon as usual."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    interval = 6000 / 90000
    for k in range(20):
        clock.now = 1.0 + k * interval + (0.05 if k == 0 else 0.0)
        p = packet(1000 + k, 9000 + 6000 * k, marker=True)
        p.payload = b"x"
        nacks.add(p)
    assert nacks.tail.lateness() < 0.001
    clock.now += interval + nacks.tail.wait()
    assert nacks.tail.due() == [1020, 1021]


def test_a_link_that_queues_gets_no_probe_for_an_overdue_frame() -> None:
    """Frames arriving later and later than their timestamps say: a queue. The next frame is in it, not lost."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    one_packet_frames(nacks, clock, 5, late_by=QUEUEING_S / 2)
    assert nacks.tail.queueing()
    clock.now += 1.0
    assert nacks.tail.due() == []


def test_no_frame_interval_is_assumed_before_frames_have_shown_it() -> None:
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    one_packet_frames(nacks, clock, 2)
    assert nacks.tail.frame_interval() is None
    clock.now += 1.0
    assert nacks.tail.due() == []


def test_the_probe_waits_longer_on_a_link_that_spaces_a_frames_packets_out() -> None:
    """A rate-capped link delivers a frame's packets 16 ms apart: probing after 10 ms would ask for packets
    already on their way on every frame."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    for p in frame(1000, 8, 9000)[:7]:
        p.payload = b"x"
        nacks.add(p)
        clock.now += 0.016
    assert nacks.tail.wait() >= 2.5 * 0.016
    clock.now += 0.02 - 0.016
    assert nacks.tail.due() == []


def test_a_retry_is_due_a_round_trip_and_a_half_after_the_nack_without_a_packet_arriving() -> None:
    """The retry timer: the NACK or its answer was lost at a frame's end, and no later packet comes to show it."""
    clock = Clock()
    nacks = RetryingNackGenerator(clock=clock)
    nacks.add(packet(1000, 0))
    assert nacks.next_retry_in(clock.now) is None
    assert nacks.add(packet(1002, 0)) and nacks.missing == {1001}
    wait = nacks.next_retry_in(clock.now)
    assert wait is not None and wait == pytest.approx(1.5 * nacks.rtt)
    assert nacks.due(clock.now) == set()
    clock.now += wait
    assert nacks.due(clock.now) == {1001}
    nacks.add(packet(1001, 0))  # the answer came
    assert nacks.next_retry_in(clock.now) is None
