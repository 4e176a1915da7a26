"""Retention rules, pure: deadlines, what is due for deletion, what is overdue, and the allowed state changes.

A recording gets a deletion deadline when it starts: the configured default, or an earlier or later date the
host chooses up to the configured maximum. The deletion engine deletes it at the deadline (or earlier on request)
and it is closed once every organisation that took part has confirmed it holds no copy. Compliance officers see
two kinds of overdue: a deadline passed without deletion (after a short tolerance for the sweep interval), and a
deletion whose confirmations have not all arrived within the grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from privacy.user_text import Text
from recordings.errors import DeadlineInPast, DeadlineTooLate, InvalidRecordingRequest


class State(StrEnum):
    RECORDING = "recording"
    READY = "ready"
    BROKEN = "broken"
    """Recording stopped by a crash or a write error; the file plays up to its last whole chunk, if at all."""
    DELETING = "deleting"
    DELETED = "deleted"
    """Key destroyed, file removed, certificate written; confirmations outstanding."""
    CLOSED = "closed"


class DeletionStep(StrEnum):
    REQUESTED = "requested"
    KEY_DESTROYED = "key_destroyed"
    FILE_REMOVED = "file_removed"


class DeletionTrigger(StrEnum):
    DEADLINE = "deadline"
    HOST = "host"
    CONSENT_WITHDRAWN = "consent_withdrawn"


class Overdue(StrEnum):
    DEADLINE_PASSED = "deadline_passed"
    UNCONFIRMED = "unconfirmed"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.RECORDING: frozenset({State.READY, State.BROKEN}),
    State.READY: frozenset({State.DELETING}),
    State.BROKEN: frozenset({State.DELETING}),
    State.DELETING: frozenset({State.DELETED}),
    State.DELETED: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}
STORED = frozenset({State.RECORDING, State.READY, State.BROKEN, State.DELETING})
"""States in which the file (or at least its key) may still exist."""
PLAYABLE = frozenset({State.READY, State.BROKEN})


def can_move(old: State, new: State) -> bool:
    return new in TRANSITIONS[old]


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Retention settings (from configuration)."""

    default: timedelta = timedelta(days=30)
    """Deadline when the host does not choose one."""
    maximum: timedelta = timedelta(days=90)
    """Latest deadline a host may choose, counted from the start of the recording."""
    deletion_tolerance: timedelta = timedelta(hours=1)
    """How long past its deadline a recording may wait for the sweep before it is flagged overdue."""
    confirmation_grace: timedelta = timedelta(days=14)
    """How long after deletion the organisations have to confirm before the recording is flagged overdue."""

    def __post_init__(self) -> None:
        if not timedelta(0) < self.default <= self.maximum:
            raise ValueError("the default retention must be positive and not longer than the maximum")
        if self.deletion_tolerance < timedelta(0) or self.confirmation_grace < timedelta(0):
            raise ValueError("tolerances cannot be negative")

    @property
    def maximum_days(self) -> int:
        return max(1, self.maximum // timedelta(days=1))


def choose_deadline(policy: RetentionPolicy, now: datetime, requested: datetime | None) -> datetime:
    """The deadline for a recording starting ``now``: ``requested`` if allowed, else the default."""
    if requested is None:
        return now + policy.default
    if requested.tzinfo is None or requested.utcoffset() is None:
        raise InvalidRecordingRequest(Text("err.rec.deadline_timezone"))
    if requested <= now:
        raise DeadlineInPast()
    if requested > now + policy.maximum:
        raise DeadlineTooLate(policy.maximum_days)
    return requested


def is_due(state: State, deadline: datetime, now: datetime) -> bool:
    """Whether the sweep should delete a recording in ``state`` now (active recordings are stopped first)."""
    return state in (State.RECORDING, State.READY, State.BROKEN) and now >= deadline


def overdue(
    policy: RetentionPolicy,
    now: datetime,
    *,
    state: State,
    deadline: datetime,
    deleted_at: datetime | None,
) -> Overdue | None:
    """Why a recording is overdue, if it is: its deadline passed and it still exists (deleting included, since
    a deletion stuck half-way is exactly what must be seen), or it was deleted but is not closed in time."""
    if state in STORED and now > deadline + policy.deletion_tolerance:
        return Overdue.DEADLINE_PASSED
    if state is State.DELETED and deleted_at is not None and now > deleted_at + policy.confirmation_grace:
        return Overdue.UNCONFIRMED
    return None
