"""A department's drop-in queue: callers wait in order, a technician takes the next one into a meeting.

Pure and synchronous: the web layer keeps one queue per (centre, department) in the database
(``session.planning.dropin_store``, so every node serves the same line), passes ``now`` in seconds, and does the I/O
(creating the meeting, answering the caller's poll). A caller is an anonymous ticket (a random id and times,
nothing else), so the queue holds no personal data. A caller proves they are still there by polling
(``heartbeat``); one not seen for ``heartbeat_timeout`` seconds is dropped, so a closed tab does not hold up
the line. The expected wait is the number of callers up to and including this one times the average of recent
handling times, divided by the technicians on duty: a rough figure, shown rounded.
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from session.planning.errors import QueueFull, TicketUnknown

DEFAULT_HANDLING_SECONDS = 600.0
"""Used until real handling times are known: a diagnosis call of about ten minutes."""
HANDLING_WINDOW = 10
MIN_HANDLING_SECONDS, MAX_HANDLING_SECONDS = 30.0, 7200.0
"""Recorded times are clamped to this range so one forgotten or aborted call does not swing the estimate."""


class TicketState(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    """A technician has taken the caller; ``destination`` says where to go once it is handed over."""


@dataclass(slots=True)
class Ticket:
    id: str
    joined_at: float
    last_seen: float
    state: TicketState = TicketState.WAITING
    taken_at: float | None = None
    destination: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """What a caller's page shows. ``position`` is 1 for the next in line and None once called."""

    ticket_id: str
    state: TicketState
    position: int | None
    expected_wait_seconds: float | None
    destination: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    """What a technician sees of a waiting caller: only the place in line and how long they have waited."""

    ticket_id: str
    position: int
    waited_seconds: float


class DropInQueue:
    """FIFO queue of anonymous callers with a size limit, heartbeat expiry and a moving-average wait estimate."""

    def __init__(
        self,
        *,
        max_size: int = 25,
        heartbeat_timeout: float = 45.0,
        default_handling: float = DEFAULT_HANDLING_SECONDS,
        window: int = HANDLING_WINDOW,
        technicians: int = 1,
        new_id: Callable[[], str] = lambda: secrets.token_urlsafe(16),
    ) -> None:
        if max_size < 1 or heartbeat_timeout <= 0 or default_handling <= 0 or window < 1:
            raise ValueError("queue limits must be positive")
        self.max_size = max_size
        self.heartbeat_timeout = heartbeat_timeout
        self.default_handling = default_handling
        self.technicians = technicians
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self._handling: deque[float] = deque(maxlen=window)
        self._new_id = new_id

    # --- callers ------------------------------------------------------------------------------------------

    def join(self, now: float) -> QueueStatus:
        """A new ticket at the end of the line; QueueFull when ``max_size`` callers are already waiting."""
        self.expire(now)
        if len(self._waiting()) >= self.max_size:
            raise QueueFull()
        ticket_id = self._new_id()
        while ticket_id in self._tickets:
            ticket_id = self._new_id()
        self._tickets[ticket_id] = Ticket(ticket_id, joined_at=now, last_seen=now)
        return self._status(self._tickets[ticket_id])

    def heartbeat(self, ticket_id: str, now: float) -> QueueStatus:
        """The caller's poll: marks them as still there and says where they stand (or where to go)."""
        self.expire(now)
        ticket = self._get(ticket_id)
        ticket.last_seen = now
        return self._status(ticket)

    def leave(self, ticket_id: str, now: float) -> None:
        """The caller gives up (or has arrived in the meeting); leaving twice is harmless."""
        self._tickets.pop(ticket_id, None)
        self.expire(now)

    # --- technicians --------------------------------------------------------------------------------------

    def take_next(self, now: float) -> Ticket | None:
        """The longest-waiting caller who is still there, now marked as called; None when nobody waits.

        The web layer then creates the meeting and calls ``hand_over`` with the caller's join address.
        """
        self.expire(now)
        waiting = self._waiting()
        if not waiting:
            return None
        ticket = waiting[0]
        ticket.state, ticket.taken_at = TicketState.CALLED, now
        return ticket

    def hand_over(self, ticket_id: str, destination: str) -> None:
        """Where the called caller goes; their next poll returns it."""
        ticket = self._get(ticket_id)
        if ticket.state is not TicketState.CALLED:
            raise TicketUnknown()
        ticket.destination = destination

    def put_back(self, ticket_id: str) -> None:
        """Undo ``take_next`` (the meeting could not be created): the caller gets their place back."""
        ticket = self._get(ticket_id)
        ticket.state, ticket.taken_at, ticket.destination = TicketState.WAITING, None, None

    def record_handling(self, seconds: float) -> None:
        """How long a finished drop-in call took; feeds the moving average of the wait estimate."""
        self._handling.append(min(max(seconds, MIN_HANDLING_SECONDS), MAX_HANDLING_SECONDS))

    def waiting(self, now: float) -> list[WaitingCaller]:
        self.expire(now)
        return [WaitingCaller(t.id, position, now - t.joined_at) for position, t in enumerate(self._waiting(), start=1)]

    # --- shared -------------------------------------------------------------------------------------------

    @property
    def average_handling(self) -> float:
        return sum(self._handling) / len(self._handling) if self._handling else self.default_handling

    def expected_wait(self, position: int) -> float:
        """Seconds until the caller at ``position`` (1 = next) is likely taken."""
        return position * self.average_handling / max(1, self.technicians)

    def expire(self, now: float) -> list[str]:
        """Drop callers not seen for longer than ``heartbeat_timeout``; returns their ticket ids."""
        gone = [t.id for t in self._tickets.values() if now - t.last_seen > self.heartbeat_timeout]
        for ticket_id in gone:
            del self._tickets[ticket_id]
        return gone

    def __len__(self) -> int:
        return len(self._waiting())

    def snapshot(self) -> dict[str, Any]:
        """The queue's state as plain JSON values (tickets in line order, recent handling times)."""
        return {
            "technicians": self.technicians,
            "handling": list(self._handling),
            "tickets": [
                [t.id, t.joined_at, t.last_seen, t.state.value, t.taken_at, t.destination]
                for t in self._tickets.values()
            ],
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the state with one from ``snapshot`` (this queue's limits are kept)."""
        self.technicians = int(snapshot.get("technicians", 1))
        self._handling.clear()
        self._handling.extend(float(h) for h in snapshot.get("handling", ()))
        self._tickets.clear()
        for ticket_id, joined_at, last_seen, state, taken_at, destination in snapshot.get("tickets", ()):
            self._tickets[ticket_id] = Ticket(
                ticket_id, float(joined_at), float(last_seen), TicketState(state), taken_at, destination
            )

    def _waiting(self) -> list[Ticket]:
        return [t for t in self._tickets.values() if t.state is TicketState.WAITING]

    def _get(self, ticket_id: str) -> Ticket:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise TicketUnknown()
        return ticket

    def _status(self, ticket: Ticket) -> QueueStatus:
        if ticket.state is TicketState.CALLED:
            return QueueStatus(ticket.id, ticket.state, None, None, ticket.destination)
        position = [t.id for t in self._waiting()].index(ticket.id) + 1
        return QueueStatus(ticket.id, ticket.state, position, self.expected_wait(position))


def format_wait(seconds: float) -> str:
    """The expected wait as people say it: "omtrent 10 minutter"."""
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "omtrent ett minutt"
    if minutes < 60:
        return f"omtrent {minutes} minutter"
    return "mer enn en time"
