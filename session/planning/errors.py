"""Errors of planning, drop-in, repair records and summaries. Messages are catalogue texts (said in the reader's
language at the edge) and never echo input.

``field`` names the form field that is wrong, so that a page can put the message beside it; ``problems``
holds every field's message when several were wrong at once (the first one is also the error's own message).
Nothing is stored when one of these is raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from privacy.user_text import Message, Text
from session.errors import SessionError


class PlanningError(SessionError):
    """Base of the form-shaped errors: one field is named, every problem found is listed."""

    code = "planning_error"

    def __init__(self, field: str, message: Message, *, problems: Mapping[str, Message] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.problems: dict[str, Message] = dict(problems) if problems else {field: message}

    @classmethod
    def from_problems(cls, problems: Mapping[str, Message]) -> Self:
        field, message = next(iter(problems.items()))
        return cls(field, message, problems=problems)


class PlanInvalid(PlanningError):
    code = "plan_invalid"


class RepairInvalid(PlanningError):
    code = "repair_invalid"


class SummaryInvalid(PlanningError):
    code = "summary_invalid"


class OpeningHoursInvalid(PlanningError):
    code = "opening_hours_invalid"


class QueueError(SessionError):
    code = "queue_error"


class QueueFull(QueueError):
    code = "queue_full"

    def __init__(self) -> None:
        super().__init__(Text("dropin.error.full"))


class TicketUnknown(QueueError):
    code = "ticket_unknown"

    def __init__(self) -> None:
        super().__init__(Text("dropin.gone"))


class IcsInvalid(SessionError):
    """A calendar text that is not well-formed iCalendar (used when reading invitations back)."""

    code = "ics_invalid"
