"""A probe's queue, measured by pinging the receiver: the pure gauge, and through the real server and ICE."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from session.media.link_policy import LOW_BPS, Layer, LinkPolicy
from session.media.probe_ping import PING_INTERVAL_S, PROBE_QUEUE_S, QUEUED_PINGS, QueueGauge, nominated_pair
from tests.live_server import LiveServer
from tests.session.test_link_layers import closing, in_call, silence_estimators
from web.keys import RELAY

pytestmark = pytest.mark.timeout(120)


def pinged(gauge: QueueGauge, rtts: list[float | None], every: float = PING_INTERVAL_S) -> float:
    """Pings sent ``every`` apart from 0, answered after the given round trips (None: never); the time after."""
    for k, rtt in enumerate(rtts):
        index = gauge.ping(k * every)
        if rtt is not None:
            gauge.answered(index, rtt)
    return len(rtts) * every


def test_answers_that_wait_longer_in_a_row_are_a_queue_one_or_two_late_answers_are_not() -> None:
    late = 0.004 + PROBE_QUEUE_S + 0.01
    gauge = QueueGauge()
    now = pinged(gauge, [0.004, late, 0.005, late, late, 0.004])  # the server's own loop, now and then
    assert not gauge.queued(now + 1)
    assert QUEUED_PINGS == 3
    gauge = QueueGauge()
    now = pinged(gauge, [0.004, late, late + 0.02, late + 0.04])
    assert gauge.queued(now)


def test_pings_not_answered_when_an_answer_in_time_would_have_come_are_late() -> None:
    """A queue that holds the pings (or overflows and drops them) is seen before any of them comes back."""
    gauge = QueueGauge()
    pinged(gauge, [0.004, None, None, None])  # sent 0, 1, 2 and 3 intervals in; the first answered in 4 ms
    overdue = 0.004 + PROBE_QUEUE_S  # after its sending, a ping not answered by then is late
    assert not gauge.queued(PING_INTERVAL_S + overdue - 0.001)  # none is overdue yet
    assert not gauge.queued(3 * PING_INTERVAL_S + overdue - 0.001)  # two are
    assert gauge.queued(3 * PING_INTERVAL_S + overdue + 0.001)  # three are


def test_pings_in_flight_while_the_servers_own_loop_was_held_are_not_judged() -> None:
    """A busy server reads every answer late after its event loop was held: that is no queue on the link."""
    late = 0.004 + PROBE_QUEUE_S + 0.05
    gauge = QueueGauge()

    def ping_at(t: float, rtt: float) -> None:
        gauge.answered(gauge.ping(t), rtt)

    ping_at(0.0, 0.004)
    for k in range(1, 4):
        ping_at(k * PING_INTERVAL_S, late)
    gauge.loop_held(0.2)
    assert not gauge.queued(0.2)
    for k in range(3):  # late again, sent after the hold: the link queues
        ping_at(0.2 + k * PING_INTERVAL_S, late)
    assert gauge.queued(0.5)


def test_random_loss_of_single_pings_and_a_steady_slow_link_are_no_queue() -> None:
    gauge = QueueGauge()
    now = pinged(gauge, [0.004, 0.005, None, 0.004, None, None, 0.006, 0.004])
    assert not gauge.queued(now + 1)
    slow = QueueGauge()  # a long round trip (a far TURN relay) is the fastest answer, not a queue
    now = pinged(slow, [0.6 + 0.01 * (k % 3) for k in range(50)])
    assert not slow.queued(now + 1)


def test_a_queue_seen_during_a_probe_undoes_it_and_is_forgotten_after() -> None:
    policy = LinkPolicy(layer=Layer.LOW, changed_at=0.0, changes=1)
    assert policy.decide(1, 9.0) is Layer.HIGH and policy.probing
    policy.queue_seen()
    assert policy.decide(1, 9.1) is Layer.LOW and policy.failed_probes == 1
    assert policy.signals is not None and not policy.signals.queued


async def polled(check: Callable[[], bool], timeout: float) -> bool:
    """Whether ``check`` came true within ``timeout`` (looked at every 10 ms)."""
    for _ in range(int(timeout / 0.01)):
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


async def measure_with_answers(server: LiveServer, queueing: bool) -> tuple[float | None, int, int]:
    """Move a receiver to the low layer and let the relay measure the room for the high one (padding, then the
    switch) while the receiver's ICE answers each ping at once, or (``queueing``) after a wait that grows as a
    queue in front of a link sent 2.25 times what it carries does, up to a 200 ms buffer. Returns how long the
    measurement lasted (None: still on after 1.5 s), the pings the receiver answered and the padding sent."""
    host, others = await in_call(server, ["tekniker"])
    receiver = others["tekniker"]
    relay = server.app[RELAY]
    result: list[float | None] = [None]
    answered = [0]
    padded = [0]

    async def body() -> None:
        await receiver.wait_for("slot", participant=host.pid)
        silence_estimators(receiver)  # only the pings may undo the probe (no estimate, no loss on loopback)
        assert receiver.pc is not None
        found = nominated_pair(receiver.pc)
        assert found is not None
        connection = found[0]
        answer = connection.request_received
        loop = asyncio.get_running_loop()
        probe_at: list[float] = []

        def late(*args):  # type: ignore[no-untyped-def]
            answered[0] += 1
            wait = 0.0 if not queueing or not probe_at else min(0.2, 1.25 * (loop.time() - probe_at[0]))
            loop.call_later(wait, answer, *args)

        connection.request_received = late
        media = relay._media[receiver.pid]
        assert media.link is not None
        policy = media.link.policy
        policy.layer, policy.changed_at, policy.changes = Layer.LOW, 0.0, 1  # long on LOW: the next tick pads
        assert await polled(lambda: policy.padding_since is not None, 5)
        assert policy.padding_since is not None
        probe_at.append(policy.padding_since)  # the link's clock is the loop's (monotonic)
        answered[0] = 0
        if await polled(lambda: not policy.measuring, 1.5):
            assert policy.layer is Layer.LOW and policy.failed_probes == 1  # the layer never changed
            result[0] = policy.changed_at - probe_at[0]
        padded[0] = media.link.padding_bytes

    await closing([host, *others.values()], body)
    return result[0], answered[0], padded[0]


async def test_padding_whose_pings_wait_in_a_growing_queue_ends_within_a_third_of_a_second(
    server: LiveServer,
) -> None:
    lasted, _, _ = await measure_with_answers(server, queueing=True)
    assert lasted is not None and lasted <= 0.3, lasted


async def test_padding_whose_pings_come_back_at_once_goes_on_and_is_sent(server: LiveServer) -> None:
    lasted, answered, padded = await measure_with_answers(server, queueing=False)
    assert lasted is None  # still measuring after 1.5 s
    assert answered >= 30  # pinged all along (every 20 ms)
    # Resends of the newest packets raise what the link is sent toward the high layer's rate (900 kbit/s after
    # the 2 s ramp): after 1.5 s at least the low layer's rate's worth on top of the low layer.
    assert padded >= LOW_BPS / 8 * 1.0, padded
