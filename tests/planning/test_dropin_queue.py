"""The drop-in queue with an injected clock: order, position, expected wait, heartbeat expiry, size limit."""

from __future__ import annotations

import itertools

import pytest

from session.planning.dropin_queue import DEFAULT_HANDLING_SECONDS, DropInQueue, Ticket, TicketState, format_wait
from session.planning.errors import QueueFull, TicketUnknown
from tests.said import nb


def queue(**options: int | float) -> DropInQueue:
    counter = itertools.count(1)
    return DropInQueue(new_id=lambda: f"t{next(counter)}", **options)  # type: ignore[arg-type]


def test_callers_are_taken_first_in_first_out_and_positions_move_up() -> None:
    q = queue()
    a, b, c = q.join(0.0), q.join(1.0), q.join(2.0)
    assert [s.position for s in (a, b, c)] == [1, 2, 3]
    assert len(q) == 3
    taken = q.take_next(5.0)
    assert taken is not None and taken.id == a.ticket_id
    assert q.heartbeat(b.ticket_id, 6.0).position == 1
    assert q.heartbeat(c.ticket_id, 6.0).position == 2
    second = q.take_next(7.0)
    assert second is not None and second.id == b.ticket_id
    assert q.heartbeat(c.ticket_id, 8.0).position == 1
    third = q.take_next(9.0)
    assert third is not None and third.id == c.ticket_id
    assert q.take_next(10.0) is None


def test_a_ticket_carries_no_identity() -> None:
    q = DropInQueue()
    status = q.join(0.0)
    assert len(status.ticket_id) >= 20
    taken = q.take_next(0.0)
    assert taken is not None
    assert set(Ticket.__dataclass_fields__) == {"id", "joined_at", "last_seen", "state", "taken_at", "destination"}


def test_the_called_caller_learns_where_to_go() -> None:
    q = queue()
    status = q.join(0.0)
    q.join(1.0)
    taken = q.take_next(2.0)
    assert taken is not None
    called = q.heartbeat(status.ticket_id, 3.0)
    assert called.state is TicketState.CALLED and called.position is None and called.destination is None
    q.hand_over(taken.id, "/m/abc?t=secret")
    assert q.heartbeat(status.ticket_id, 4.0).destination == "/m/abc?t=secret"
    assert "secret" not in repr(q.heartbeat(status.ticket_id, 4.0))
    q.leave(status.ticket_id, 5.0)
    with pytest.raises(TicketUnknown):
        q.heartbeat(status.ticket_id, 6.0)


def test_put_back_returns_the_caller_to_their_place() -> None:
    q = queue()
    first, second = q.join(0.0), q.join(1.0)
    taken = q.take_next(2.0)
    assert taken is not None
    q.put_back(taken.id)
    assert q.heartbeat(first.ticket_id, 3.0).position == 1
    assert q.heartbeat(second.ticket_id, 3.0).position == 2


def test_expected_wait_uses_a_default_then_the_moving_average() -> None:
    q = queue(window=3)
    first, second = q.join(0.0), q.join(0.0)
    assert first.expected_wait_seconds == DEFAULT_HANDLING_SECONDS
    assert second.expected_wait_seconds == 2 * DEFAULT_HANDLING_SECONDS
    for seconds in (100.0, 200.0, 300.0):
        q.record_handling(seconds)
    assert q.average_handling == 200.0
    q.record_handling(400.0)  # the oldest falls out of the window of three
    assert q.average_handling == 300.0
    assert q.heartbeat(second.ticket_id, 1.0).expected_wait_seconds == 600.0
    q.technicians = 2
    assert q.heartbeat(second.ticket_id, 1.0).expected_wait_seconds == 300.0


def test_handling_times_are_clamped() -> None:
    q = queue(window=2)
    q.record_handling(1.0)
    q.record_handling(99_999.0)
    assert q.average_handling == (30.0 + 7200.0) / 2


def test_callers_not_seen_for_the_heartbeat_timeout_are_dropped() -> None:
    q = queue(heartbeat_timeout=30.0)
    quiet, active = q.join(0.0), q.join(1.0)
    q.heartbeat(active.ticket_id, 20.0)
    assert q.heartbeat(quiet.ticket_id, 30.0).position == 1  # seen again: stays
    q.heartbeat(active.ticket_id, 50.0)
    assert q.expire(60.0) == []  # exactly the timeout after its last heartbeat: still there
    assert q.expire(60.5) == [quiet.ticket_id]
    with pytest.raises(TicketUnknown):
        q.heartbeat(quiet.ticket_id, 61.0)
    assert q.heartbeat(active.ticket_id, 61.0).position == 1


def test_a_stale_caller_is_skipped_by_the_technician() -> None:
    q = queue(heartbeat_timeout=30.0)
    gone, waiting = q.join(0.0), q.join(10.0)
    q.heartbeat(waiting.ticket_id, 35.0)
    taken = q.take_next(40.0)
    assert taken is not None and taken.id == waiting.ticket_id
    assert gone.ticket_id not in {c.ticket_id for c in q.waiting(40.0)}


def test_a_full_queue_refuses_with_a_clear_message_and_frees_up() -> None:
    q = queue(max_size=2)
    first = q.join(0.0)
    q.join(0.0)
    with pytest.raises(QueueFull) as caught:
        q.join(1.0)
    assert "Køen er full" in nb(caught.value)
    q.leave(first.ticket_id, 2.0)
    assert q.join(3.0).position == 2


def test_called_callers_do_not_count_against_the_limit() -> None:
    q = queue(max_size=1)
    q.join(0.0)
    q.take_next(1.0)
    assert q.join(2.0).position == 1


def test_the_technician_sees_only_positions_and_waiting_times() -> None:
    q = queue(heartbeat_timeout=120.0)
    q.join(0.0)
    q.join(30.0)
    callers = q.waiting(90.0)
    assert [(c.position, c.waited_seconds) for c in callers] == [(1, 90.0), (2, 60.0)]


def test_leaving_twice_and_unknown_tickets() -> None:
    q = queue()
    status = q.join(0.0)
    q.leave(status.ticket_id, 1.0)
    q.leave(status.ticket_id, 1.0)
    with pytest.raises(TicketUnknown):
        q.hand_over("nope", "/m/x")
    with pytest.raises(TicketUnknown):
        q.hand_over(q.join(2.0).ticket_id, "/m/x")  # not called yet


def test_wait_is_said_in_round_minutes() -> None:
    assert format_wait(20) == "omtrent ett minutt"
    assert format_wait(600) == "omtrent 10 minutter"
    assert format_wait(601) == "omtrent 11 minutter"
    assert format_wait(4000) == "mer enn en time"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DropInQueue(max_size=0)
