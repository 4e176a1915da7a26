"""The drop-in as one service that owns its transactions: the department lines (under their row lock), the
centre and its opening hours, the technicians' access and their calls, and the opening exceptions.

The web handlers (``web/dropin_pages.py`` for callers, ``web/dropin_staff_pages.py`` for technicians) read the
request and render; every read and write of the drop-in's tables goes through here.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from session.access.isolation import meetings_visible_to
from session.access.organisations import get_organisation, org_scope, staff_roles_of
from session.access.staff_roles import OrgKind, StaffRole
from session.departments import Department
from session.meetings import Meeting, create_meeting
from session.planning.dropin_store import DropInLine, LineLimits, QueueKey, locked_line
from session.planning.opening_hours import HORIZON_DAYS, DayException, OpeningHours
from session.planning.opening_hours import standard_hours as standard_opening_hours
from session.planning.store import load_opening_exceptions, save_opening_exception, with_exceptions


@dataclass(frozen=True, slots=True)
class DropInOptions:
    """How the drop-in runs. The weekly hours hold for every department; exceptions are stored per day."""

    opens: time = time(8)
    closes: time = time(15, 30)
    contact: str = ""
    """How else to reach the centre (phone hours, e-mail), shown while closed; empty uses the general text."""
    max_queue: int = 25
    heartbeat_timeout: float = 150.0
    """Longer than a browser's throttled timers in a background tab (Chrome runs them once a minute after
    five hidden minutes), so a caller who looks at another tab while waiting keeps the place."""
    call_ttl: timedelta = timedelta(hours=3)
    """How long the join links of a drop-in call are valid."""


@dataclass(frozen=True, slots=True)
class TechnicianView:
    """What a technician's page shows beside the queue: their own recent drop-in calls and the exceptions."""

    recent: list[Meeting]
    exceptions: list[DayException]


@dataclass
class DropInService:
    """The drop-in of the service: the options here, the lines in the database (shared by every node)."""

    engine: AsyncEngine
    options: DropInOptions = field(default_factory=DropInOptions)

    @property
    def limits(self) -> LineLimits:
        return LineLimits(max_size=self.options.max_queue, heartbeat_timeout=self.options.heartbeat_timeout)

    def line(self, key: QueueKey) -> AbstractAsyncContextManager[DropInLine]:
        """The department's line under its lock (see ``session.planning.dropin_store.locked_line``)."""
        return locked_line(self.engine, key, self.limits)

    async def centre_name(self, centre_id: int) -> str | None:
        """The name of a help-aid centre; None when ``centre_id`` is no centre."""
        async with self.engine.connect() as conn:
            centre = await get_organisation(conn, centre_id)
        return centre.name if centre is not None and centre.kind is OrgKind.CENTRE else None

    async def opening_hours(self, centre_id: int, department: Department, today: date) -> OpeningHours:
        async with self.engine.connect() as conn:
            exceptions = await load_opening_exceptions(
                conn, centre_id=centre_id, department=department, start=today, end=today + timedelta(days=HORIZON_DAYS)
            )
        standard = standard_opening_hours(department, opens=self.options.opens, closes=self.options.closes)
        return with_exceptions(standard, exceptions)

    async def may_take(self, staff_id: int, centre_id: int, needed: StaffRole) -> bool:
        """Whether the staff member holds ``needed`` and the centre is in their scope."""
        async with self.engine.connect() as conn:
            held = {role for role, _ in await staff_roles_of(conn, staff_id)}
            scope = await org_scope(conn, staff_id)
        return needed in held and centre_id in scope

    async def technician_view(
        self, staff_id: int, centre_id: int, department: Department, kind: str, today: date
    ) -> TechnicianView:
        async with self.engine.connect() as conn:
            recent = [
                m
                for m in await meetings_visible_to(conn, staff_id, limit=50)
                if m.created_by == staff_id and m.centre_id == centre_id and m.kind == kind
            ][:5]
            exceptions = await load_opening_exceptions(
                conn, centre_id=centre_id, department=department, start=today, end=today + timedelta(days=90)
            )
        return TechnicianView(recent, exceptions)

    async def create_call(
        self, *, organisation_id: int, centre_id: int, topic: str, kind: str, created_by: int, now: datetime
    ) -> Meeting:
        """The meeting of one drop-in call (its links are issued by the caller, each audited)."""
        async with self.engine.begin() as conn:
            return await create_meeting(
                conn,
                organisation_id=organisation_id,
                centre_id=centre_id,
                topic=topic,
                kind=kind,
                created_by=created_by,
                now=now,
            )

    async def save_exception(self, centre_id: int, department: Department, exception: DayException) -> None:
        async with self.engine.begin() as conn:
            await save_opening_exception(conn, centre_id=centre_id, department=department, exception=exception)
