"""Retention rules with an injected clock: deadlines, what is due, what is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recordings.errors import DeadlineInPast, DeadlineTooLate, InvalidRecordingRequest
from recordings.retention import (
    Overdue,
    RetentionPolicy,
    State,
    can_move,
    choose_deadline,
    is_due,
    overdue,
)
from tests.said import nb

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = RetentionPolicy(default=timedelta(days=30), maximum=timedelta(days=90))


def test_default_deadline() -> None:
    assert choose_deadline(POLICY, T0, None) == T0 + timedelta(days=30)


def test_a_chosen_deadline_up_to_the_maximum_is_kept() -> None:
    assert choose_deadline(POLICY, T0, T0 + timedelta(days=3)) == T0 + timedelta(days=3)
    assert choose_deadline(POLICY, T0, T0 + timedelta(days=90)) == T0 + timedelta(days=90)


def test_a_deadline_past_the_maximum_is_refused_in_norwegian() -> None:
    with pytest.raises(DeadlineTooLate) as caught:
        choose_deadline(POLICY, T0, T0 + timedelta(days=90, seconds=1))
    assert nb(caught.value) == (
        "Slettefristen kan være høyst 90 dager etter at opptaket starter. Velg en tidligere dato."
    )


def test_a_deadline_in_the_past_or_without_zone_is_refused() -> None:
    with pytest.raises(DeadlineInPast):
        choose_deadline(POLICY, T0, T0)
    with pytest.raises(InvalidRecordingRequest) as refused:
        choose_deadline(POLICY, T0, datetime(2026, 4, 1, 9, 0))
    assert "tidssone" in nb(refused.value)


def test_policy_refuses_a_default_longer_than_the_maximum() -> None:
    with pytest.raises(ValueError):
        RetentionPolicy(default=timedelta(days=100), maximum=timedelta(days=90))
    with pytest.raises(ValueError):
        RetentionPolicy(default=timedelta(0))


def test_due_at_the_deadline_and_not_before() -> None:
    deadline = T0 + timedelta(days=30)
    assert not is_due(State.READY, deadline, deadline - timedelta(microseconds=1))
    assert is_due(State.READY, deadline, deadline)
    assert is_due(State.BROKEN, deadline, deadline + timedelta(days=1))
    assert is_due(State.RECORDING, deadline, deadline)
    assert not is_due(State.DELETED, deadline, deadline + timedelta(days=1))


@pytest.mark.parametrize("state", [State.RECORDING, State.READY, State.BROKEN, State.DELETING])
def test_past_the_deadline_and_still_stored_is_overdue_after_the_tolerance(state: State) -> None:
    deadline = T0 + timedelta(days=30)
    tolerance = POLICY.deletion_tolerance
    assert overdue(POLICY, deadline + tolerance, state=state, deadline=deadline, deleted_at=None) is None
    late = deadline + tolerance + timedelta(seconds=1)
    assert overdue(POLICY, late, state=state, deadline=deadline, deleted_at=None) is Overdue.DEADLINE_PASSED


def test_deleted_but_unconfirmed_is_overdue_after_the_grace_period() -> None:
    deadline = T0 + timedelta(days=30)
    deleted = deadline + timedelta(minutes=1)
    grace = POLICY.confirmation_grace
    flag = overdue(POLICY, deleted + grace, state=State.DELETED, deadline=deadline, deleted_at=deleted)
    assert flag is None
    later = deleted + grace + timedelta(seconds=1)
    assert overdue(POLICY, later, state=State.DELETED, deadline=deadline, deleted_at=deleted) is Overdue.UNCONFIRMED
    far = later + timedelta(days=365)
    assert overdue(POLICY, far, state=State.CLOSED, deadline=deadline, deleted_at=deleted) is None


def test_states_only_move_forward() -> None:
    assert can_move(State.RECORDING, State.READY) and can_move(State.READY, State.DELETING)
    assert can_move(State.DELETING, State.DELETED) and can_move(State.DELETED, State.CLOSED)
    assert not can_move(State.DELETED, State.READY)
    assert not can_move(State.READY, State.DELETED)  # never skip the persisted deletion steps
    assert not can_move(State.CLOSED, State.DELETING)
