"""While the room for the high layer is measured, the queue it builds is measured directly: STUN pings.

The link policy measures a link's room for the high layer with padding, then switches (see
:mod:`session.media.link_policy`). Into a link that does not carry it, the queue in front of it (a radio link's
buffer) grows at once, but the receiver's feedback says so late: its estimator (aiortc's, a browser's) lowers its
estimate only after the rate it measures over a second has stopped growing, and the NACKs come once the queue
overflows, 0.35–0.6 s in. By then every packet waits the whole buffer (200 ms in the bench).

A STUN binding request on the nominated ICE pair goes the way the media goes, through the same queue, and every
ICE agent answers it at once (RFC 8445; RFC 7675's consent checks are the same request). So for the first
:data:`PING_FOR_S` of a measurement the server pings every :data:`PING_INTERVAL_S`. A ping is late when its
answer took :data:`PROBE_QUEUE_S` longer than the fastest of this measurement, or has not come by then (it waits
in the queue, or the queue dropped it). :data:`QUEUED_PINGS` late pings in a row are a queue the measurement
made, and it ends there, a few tens of milliseconds of queue in. Pings cost about 60 kbit/s, and only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aioice import stun

from session.media.ice_consent import binding_request

PING_INTERVAL_S = 0.02
"""A ping every this long while the room is measured (a request of about 150 bytes with UDP and IP: 60 kbit/s)."""
PING_FOR_S = 3.5
"""A measurement is pinged this long: the padding's ramp and hold (2.5 s) and the first second of the switch that
follows; later congestion is the receiver's feedback's to tell."""
PROBE_QUEUE_S = 0.03
"""Waits this much longer than the fastest answer: a queue. Padding that passes what the link carries queues
tens of milliseconds within a tenth of a second; a loaded server's event loop lags 10–30 ms now and then, which
three late pings in a row (below) rule out, and a longer hold of the loop is seen and its pings not judged."""
QUEUED_PINGS = 3
"""Late pings in a row that make a queue. One unanswered ping can be random loss: three in a row lost at 5 %
random loss happen about once in 8000, so about once in 45 measurements (175 pings over :data:`PING_FOR_S`), and
such a false alarm only doubles the wait before the next one."""
PING_TIMEOUT_S = 0.5
"""A ping not answered by then is given up (it was late long before)."""
MAX_PINGS_IN_FLIGHT = 32
"""Bounds the pings waiting for an answer (a receiver that stopped answering)."""


@dataclass(slots=True)
class QueueGauge:
    """Pure state of one probe's pings, in the order sent: when each left, and its round trip once answered."""

    sent: list[float] = field(default_factory=list)
    rtts: dict[int, float] = field(default_factory=dict)
    fastest_s: float | None = None
    held_until: float = float("-inf")
    """The end of the last stretch in which the server's own event loop was held: a ping in flight then had its
    answer read late, however fast it came, and says nothing about the link."""

    def ping(self, now: float) -> int:
        self.sent.append(now)
        return len(self.sent) - 1

    def answered(self, index: int, rtt_s: float) -> None:
        self.rtts[index] = rtt_s
        self.fastest_s = rtt_s if self.fastest_s is None else min(self.fastest_s, rtt_s)

    def loop_held(self, now: float) -> None:
        self.held_until = now

    def queued(self, now: float) -> bool:
        """The newest :data:`QUEUED_PINGS` pings that can be judged were all late (answered late, or not yet
        answered when an answer in time would have come)."""
        if self.fastest_s is None:
            return False  # no answer yet: nothing to compare with
        late_after = self.fastest_s + PROBE_QUEUE_S
        in_row = 0
        for index in range(len(self.sent) - 1, -1, -1):
            rtt = self.rtts.get(index)
            if rtt is None and now - self.sent[index] < late_after:
                continue  # too young to judge
            if (rtt is not None and rtt < late_after) or self.sent[index] < self.held_until:
                return False
            in_row += 1
            if in_row >= QUEUED_PINGS:
                return True
        return False


def nominated_pair(pc: Any) -> tuple[Any, Any] | None:
    """The aioice connection and nominated pair a peer connection's media use (one, bundled), if connected."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        connection = getattr(getattr(dtls, "transport", None), "_connection", None)
        pairs = getattr(connection, "_nominated", None)
        if pairs and connection is not None and connection.remote_password:
            return connection, next(iter(pairs.values()))
    return None


async def _ping(connection: Any, pair: Any) -> float | None:
    """One binding request; its round trip, or None when it was not answered in time."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    with contextlib.suppress(stun.TransactionError, ConnectionError, OSError, TimeoutError):
        await asyncio.wait_for(binding_request(connection, pair, retransmissions=0), PING_TIMEOUT_S)
        return loop.time() - sent
    return None


async def ping_while_probing(pc: Any, probing: Callable[[], bool], on_queue: Callable[[], object]) -> None:
    """Ping ``pc``'s receiver for the first :data:`PING_FOR_S` of a probe, while ``probing()``; call
    ``on_queue`` when the probe's queue shows."""
    found = nominated_pair(pc)
    if found is None:
        return
    connection, pair = found
    loop = asyncio.get_running_loop()
    gauge = QueueGauge()
    in_flight: set[asyncio.Task[float | None]] = set()
    queued = False

    def judge() -> None:
        nonlocal queued
        if not queued and probing() and gauge.queued(loop.time()):
            queued = True
            on_queue()

    def answered(index: int, task: asyncio.Task[float | None]) -> None:
        in_flight.discard(task)
        rtt = None if task.cancelled() or task.exception() is not None else task.result()
        if rtt is not None:
            gauge.answered(index, rtt)

    until = loop.time() + PING_FOR_S
    try:
        while probing() and not queued and loop.time() < until:
            if len(in_flight) < MAX_PINGS_IN_FLIGHT:
                task = asyncio.ensure_future(_ping(connection, pair))
                in_flight.add(task)
                task.add_done_callback(functools.partial(answered, gauge.ping(loop.time())))
            slept_from = loop.time()
            await asyncio.sleep(PING_INTERVAL_S)
            if loop.time() - slept_from > PING_INTERVAL_S + PROBE_QUEUE_S:
                gauge.loop_held(loop.time())  # judged here, after the answers read in the same stretch
            judge()
    finally:
        for task in list(in_flight):
            task.cancel()
