"""The layer one receiver's link gets, decided from its RTCP feedback alone (pure, time passed in)."""

from __future__ import annotations

import itertools
from typing import Any

from session.media.link_feedback import ReceiverLink
from session.media.link_policy import (
    DOWN_AFTER_S,
    FIRST_PROBE_S,
    HIGH_BPS,
    LOW_BPS,
    PACKET_BYTES,
    PAD_HOLD_S,
    PAD_RAMP_S,
    PROBE_NACK_WINDOW_S,
    PROBE_SETTLE_S,
    Layer,
    LinkPolicy,
)


def run(policy: LinkPolicy, seconds: float, start: float, streams: int = 1, **signals: Any) -> list[Layer]:
    """Report ``signals`` twice a second for ``seconds`` (as the relay's ticker does); the layers switched to."""
    changes: list[Layer] = []
    t = start
    while t < start + seconds:
        sending = {Layer.HIGH: HIGH_BPS, Layer.LOW: LOW_BPS, Layer.NONE: 0}[policy.effective] * streams
        policy.report(sending_bps=sending, **signals)
        if (new := policy.decide(streams, t)) is not None:
            changes.append(new)
        t += 0.5
    return changes


def falls_to(policy: LinkPolicy, bps: int) -> None:
    """The receiver's estimate was higher a moment ago: its estimator saw a queue and lowered it."""
    policy.report(estimate_bps=2 * bps)


def test_a_link_without_feedback_keeps_the_high_layer() -> None:
    policy = LinkPolicy()
    assert run(policy, 30, 0) == []
    assert policy.effective is Layer.HIGH


def test_random_radio_loss_and_a_steady_round_trip_are_not_congestion() -> None:
    policy = LinkPolicy()
    assert run(policy, 30, 0, rtt_s=0.04, loss=0.05, estimate_bps=1_200_000) == []


def test_a_growing_round_trip_moves_the_receiver_down_after_a_second() -> None:
    policy = LinkPolicy()
    run(policy, 5, 0, rtt_s=0.03, estimate_bps=1_000_000)
    changes = run(policy, 3, 5, rtt_s=0.03 + 0.3, estimate_bps=1_000_000)
    assert changes == [Layer.LOW]
    assert policy.changed_at - 5 >= DOWN_AFTER_S


def test_one_bad_report_is_not_enough() -> None:
    policy = LinkPolicy()
    run(policy, 5, 0, rtt_s=0.03)
    policy.report(rtt_s=0.5)  # one late answer from a busy receiver
    assert policy.decide(1, 5.0) is None
    policy.report(rtt_s=0.03)
    assert run(policy, 5, 5.5, rtt_s=0.03) == []


def test_an_estimate_below_what_is_sent_moves_down_to_what_it_carries() -> None:
    policy = LinkPolicy()
    falls_to(policy, 600_000)
    # Two streams to this receiver; the link carries about 600 kbit/s: the low layer (2 x 200) fits.
    changes = run(policy, 3, 0, streams=2, estimate_bps=600_000)
    assert changes == [Layer.LOW]


def test_an_estimate_that_only_ramps_up_is_not_congestion() -> None:
    """A receiver's estimator starts low and climbs (at the start of a call, after a step up)."""
    policy = LinkPolicy()
    changes: list[Layer] = []
    for i in range(20):
        policy.report(estimate_bps=100_000 + 40_000 * i, sending_bps=HIGH_BPS)
        if (new := policy.decide(1, i * 0.5)) is not None:
            changes.append(new)
    assert changes == []


def test_a_collapsed_link_goes_straight_to_audio_only() -> None:
    policy = LinkPolicy()
    falls_to(policy, 90_000)
    assert run(policy, 3, 0, estimate_bps=90_000, loss=0.25) == [Layer.NONE]


def test_a_busy_receiver_whose_estimate_falls_but_loses_nothing_keeps_video() -> None:
    """Late packets from a busy CPU look like a queue to a receiver's estimator, but nothing is lost."""
    policy = LinkPolicy()
    falls_to(policy, 90_000)
    changes = run(policy, 30, 0, estimate_bps=90_000, rtt_s=0.6)
    assert changes[0] is Layer.LOW and Layer.NONE not in changes


def test_heavy_loss_is_congestion_but_never_takes_all_video_away() -> None:
    policy = LinkPolicy()
    assert run(policy, 3, 0, loss=0.3) == [Layer.LOW]
    assert run(policy, 30, 3, loss=0.3, rtt_s=2.0) == []  # a busy machine looks the same: low, not none


def test_the_next_layer_up_is_probed_and_a_failed_probe_doubles_the_wait() -> None:
    policy = LinkPolicy()
    falls_to(policy, 500_000)
    run(policy, 3, 0, estimate_bps=500_000)  # HIGH does not fit: LOW
    assert policy.layer is Layer.LOW
    went_down = policy.changed_at
    # The estimate keeps up with LOW: after the first interval HIGH is tried.
    changes = run(policy, FIRST_PROBE_S + 1, went_down, estimate_bps=500_000)
    assert changes == [Layer.HIGH] and policy.probing
    probe_at = policy.changed_at
    assert probe_at - went_down >= FIRST_PROBE_S
    # HIGH congests the link (the round trip grows): undone at once, the next probe waits twice as long.
    policy.report(rtt_s=0.03)
    changes = run(policy, 2, probe_at + 0.5, estimate_bps=500_000, rtt_s=0.4)
    assert changes == [Layer.LOW]
    assert policy.failed_probes == 1 and policy.probe_wait_s == 2 * FIRST_PROBE_S
    back = policy.changed_at
    assert run(policy, 2 * FIRST_PROBE_S - 1, back, estimate_bps=500_000, rtt_s=0.03) == []
    assert run(policy, 2, back + 2 * FIRST_PROBE_S - 1, estimate_bps=500_000, rtt_s=0.03) == [Layer.HIGH]


def probing_high(streams: int = 2) -> LinkPolicy:
    """A receiver moved to LOW by loss, whose first probe of HIGH has just begun."""
    policy = LinkPolicy()
    run(policy, 3, 0, streams=streams, loss=0.3)
    assert policy.layer is Layer.LOW
    changes = run(policy, FIRST_PROBE_S + 0.5, policy.changed_at, streams=streams, rtt_s=0.03, loss=0.0)
    assert changes == [Layer.HIGH] and policy.probing
    return policy


def packets(seconds: float, streams: int = 2) -> float:
    """HIGH's packets in ``seconds``."""
    return streams * HIGH_BPS / 8 / PACKET_BYTES * seconds


def test_a_probe_the_link_drops_is_undone_by_the_nacks_before_any_receiver_report() -> None:
    """Behind a rate cap, a probe of HIGH loses half its packets once the queue is full. The receivers NACK them
    within a round trip; their reports, about once a second, say it later. Each second cost late frames."""
    policy = probing_high()
    t = probe_at = policy.changed_at
    new = None
    while new is None and t < probe_at + 2:  # NACKs as they come, each decided on at once
        t += 0.05
        policy.report(nacked=int(0.5 * packets(0.05)))
        new = policy.decide(2, t)
    assert new is Layer.LOW and t - probe_at <= PROBE_NACK_WINDOW_S + 0.05
    assert policy.failed_probes == 1 and policy.probe_wait_s == 2 * FIRST_PROBE_S


def test_a_queue_that_overflows_late_in_a_window_undoes_the_probe_a_window_after_it_began() -> None:
    """The probe's keyframes fit the queue; it overflows 0.2 s in, and 40 % of what is sent is lost from then
    on. NACKs are weighed over the last window at every decision: a fixed window (0 to 0.25 s, then 0.25 to
    0.5 s) saw the overflow's first report alone and undid the probe only at 0.5 s."""
    policy = probing_high()
    t = probe_at = policy.changed_at
    new = None
    while new is None and t < probe_at + 2:
        t += 0.05
        if t - probe_at > 0.2:
            policy.report(nacked=int(0.4 * packets(0.05)))
        new = policy.decide(2, t)
    assert new is Layer.LOW and t - probe_at <= 0.2 + PROBE_NACK_WINDOW_S


def test_random_loss_nacked_during_a_probe_does_not_undo_it() -> None:
    policy = probing_high()
    t = policy.changed_at
    for _ in range(int(PROBE_SETTLE_S / 0.05) + 2):
        t += 0.05
        policy.report(nacked=1 if round(t / 0.05) % 2 else 0, sending_bps=2 * HIGH_BPS)  # 5 %: ~10 a second
        assert policy.decide(2, t) is None
    assert policy.layer is Layer.HIGH and not policy.probing  # the probe held: HIGH is the layer now


def test_a_fall_of_an_estimate_during_a_probe_undoes_it_at_once() -> None:
    """The probe's keyframes start a queue on a capped link: the receiver's delay-based estimator lowers its
    estimate within a few hundred milliseconds, before the queue overflows and long before a receiver report."""
    policy = probing_high()
    probe_at = policy.changed_at
    policy.report(estimate_fell=True)
    assert policy.decide(2, probe_at + 0.1) is Layer.LOW
    assert policy.failed_probes == 1


def test_a_fall_of_an_estimate_outside_a_probe_is_no_congestion_by_itself() -> None:
    policy = LinkPolicy()
    run(policy, 5, 0, streams=2, rtt_s=0.03)
    policy.report(estimate_fell=True)
    assert run(policy, 5, 5, streams=2, rtt_s=0.03) == [] and policy.layer is Layer.HIGH


def test_nacks_outside_a_probe_do_not_move_a_receiver() -> None:
    """Outside a probe the receiver reports decide (one burst of NACKs is no reason to drop a layer)."""
    policy = LinkPolicy()
    run(policy, 5, 0, streams=2, rtt_s=0.03)
    policy.report(nacked=int(0.5 * packets(0.5)))
    assert policy.decide(2, 5.0) is None and policy.layer is Layer.HIGH


def test_a_probe_that_holds_becomes_the_layer_and_resets_the_wait() -> None:
    policy = LinkPolicy()
    falls_to(policy, 120_000)
    run(policy, 3, 0, estimate_bps=120_000, loss=0.2)
    assert policy.layer is Layer.NONE
    start = policy.changed_at
    # The link recovers: LOW is probed and holds; its estimate catches up, so HIGH is probed later too.
    changes = run(policy, FIRST_PROBE_S + PROBE_SETTLE_S + 1, start, estimate_bps=2_000_000, rtt_s=0.03)
    assert changes[:2] == [Layer.LOW, Layer.HIGH]
    assert policy.failed_probes == 0


def test_audio_only_chosen_wins_over_every_estimate_and_is_undone_by_the_user() -> None:
    policy = LinkPolicy()
    assert policy.choose_audio_only(True) is Layer.NONE
    assert run(policy, 60, 0, estimate_bps=5_000_000) == []
    assert policy.effective is Layer.NONE
    assert policy.choose_audio_only(False) is Layer.HIGH


class Track:
    """What ReceiverLink moves between layers (an EncodedTrack's two fields and one method)."""

    def __init__(self) -> None:
        self.layer, self.bytes_sent = Layer.HIGH, 0

    def set_layer(self, layer: Layer) -> None:
        self.layer = layer


def test_a_receiver_report_during_a_probe_is_decided_on_at_once_not_at_the_next_tick() -> None:
    """The report that says a probe congests the link came just after a tick: it waited half a second."""
    now = [0.0]
    tracks = [Track(), Track()]
    link = ReceiverLink(lambda: list(enumerate(tracks)), clock=lambda: now[0])
    for _ in range(8):  # HIGH does not fit: loss moves the receiver down
        now[0] += 0.5
        link.report(loss=0.3)
        link.tick()
    assert link.layer is Layer.LOW
    while link.layer is Layer.LOW:  # until the probe (the link's loss is over)
        now[0] += 0.5
        link.report(loss=0.0, rtt_s=0.03)
        link.tick()
    assert link.policy.probing and all(t.layer is Layer.HIGH for t in tracks)
    now[0] += 0.1
    link.report(loss=0.3)  # between two ticks
    assert link.layer is Layer.LOW and all(t.layer is Layer.LOW for t in tracks)


def moved_down_then_probing(link: ReceiverLink, now: list[float], tracks: list[Track]) -> None:
    """Loss moves the receiver down; once it is over, the tracks that send carry on until the probe."""
    for _ in range(8):
        now[0] += 0.5
        for t in tracks:
            t.bytes_sent += 1000
        link.report(loss=0.3)
        link.tick()
    assert link.layer is Layer.LOW
    while not link.policy.probing:
        now[0] += 0.5
        for t in tracks:
            t.bytes_sent += 1000
        link.report(loss=0.0, rtt_s=0.03)
        link.tick()


def test_one_streams_estimate_that_falls_during_a_probe_undoes_it() -> None:
    """aiortc's receivers estimate each stream on its own: no one estimate covers the link, but any of them
    falling says the probe started a queue."""
    now = [0.0]
    tracks = [Track(), Track()]
    link = ReceiverLink(lambda: list(enumerate(tracks)), clock=lambda: now[0])
    moved_down_then_probing(link, now, tracks)
    link.report(estimate_bps=400_000, ssrcs=frozenset({0, 100}))
    link.report(estimate_bps=400_000, ssrcs=frozenset({1, 101}))
    now[0] += 0.2
    link.report(estimate_bps=420_000, ssrcs=frozenset({1, 101}))  # a rise is no queue
    assert all(t.layer is Layer.HIGH for t in tracks)
    link.report(estimate_bps=300_000, ssrcs=frozenset({0, 100}))
    assert link.layer is Layer.LOW


def test_a_probe_weighs_nacks_against_the_streams_that_send_not_every_slot() -> None:
    """Two of the four slots carry a camera; the other two (people without one) send nothing. The NACKs of a
    probe that loses 40 % of what is sent must undo it, not be diluted by the slots that send nothing."""
    now = [0.0]
    tracks = [Track() for _ in range(4)]
    sending = tracks[:2]
    link = ReceiverLink(lambda: list(enumerate(tracks)), clock=lambda: now[0])
    moved_down_then_probing(link, now, sending)
    probe_at = now[0]
    while link.layer is Layer.HIGH and now[0] < probe_at + 1:
        now[0] += 0.05
        for t in sending:
            t.bytes_sent += 1000
        link.report(nacked=int(0.4 * packets(0.05)))
    assert link.layer is Layer.LOW and now[0] - probe_at <= PROBE_NACK_WINDOW_S + 0.05


def padding_for_high(streams: int = 2) -> LinkPolicy:
    """A receiver (whose relay can pad) moved to LOW by loss, whose link has just begun to be padded."""
    policy = LinkPolicy(pads=True)
    run(policy, 3, 0, streams=streams, loss=0.3)
    assert run(policy, FIRST_PROBE_S + 0.5, policy.changed_at, streams=streams, rtt_s=0.03, loss=0.0) == []
    assert policy.padding_since is not None and policy.layer is Layer.LOW and not policy.probing
    return policy


def test_padding_rises_from_the_low_layers_rate_to_the_high_ones_then_the_layer_is_probed() -> None:
    policy = padding_for_high()
    start = policy.padding_since
    assert start is not None and policy.measuring
    rates = [policy.padding_target_bps(2, start + k * PAD_RAMP_S / 4) for k in range(6)]
    assert rates[0] == 2 * LOW_BPS and rates[4] == rates[5] == 2 * HIGH_BPS
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(rates[:5]))
    assert LinkPolicy().padding_target_bps(2, start) is None  # no padding outside a measurement
    changes = run(policy, PAD_RAMP_S + PAD_HOLD_S + 0.5, start + 0.5, streams=2, rtt_s=0.03, loss=0.0)
    assert changes == [Layer.HIGH] and policy.probing and policy.padding_since is None


def test_a_queue_seen_while_padding_ends_it_without_touching_the_layer() -> None:
    """The pings see the queue the padding starts: the padding stops there, no keyframe of the high layer ever
    went into the link, and the next try waits twice as long."""
    policy = padding_for_high()
    t = policy.padding_since
    assert t is not None
    policy.queue_seen()
    assert policy.decide(2, t + 0.6) is None
    assert policy.padding_since is None and policy.layer is Layer.LOW and policy.changes == 1
    assert policy.padding_target_bps(2, t + 0.7) is None
    assert policy.failed_probes == 1 and policy.probe_wait_s == 2 * FIRST_PROBE_S
    assert run(policy, 2 * FIRST_PROBE_S - 1, t + 0.6, streams=2, rtt_s=0.03) == []
    assert policy.padding_since is None


def test_audio_only_chosen_while_padding_stops_it() -> None:
    policy = padding_for_high()
    policy.choose_audio_only(True)
    assert policy.padding_since is None and policy.padding_target_bps(2, 100.0) is None
