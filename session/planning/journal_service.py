"""The journal of a meeting as one service that owns its transactions: the technician's repair diagnoses and the
summary the host confirms, with what the summary is built from (the plan's times and equipment, the consents).

The web handlers parse forms, build the summary with ``session.planning.summary.build_summary`` and render pages; every
read and write of the journal goes through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import Clock, ConsentLedger
from session.meetings import Meeting
from session.planning.repair import RepairDiagnosis
from session.planning.store import list_repairs, load_plan, load_summary, save_repair, save_summary
from session.planning.summary import ConsentEntry, MeetingSummary, consent_entries
from session.stored_time import stored_utc
from session.subject_refs import link_ref
from session.tables import invitations, meetings


@dataclass(frozen=True, slots=True)
class MeetingTimes:
    """When a meeting ran and what equipment was planned for it."""

    start: datetime
    end: datetime | None
    """None while the meeting has not begun."""
    serials: list[str]


class JournalService:
    """Repair diagnoses and confirmed summaries; every method opens and closes its own connection or transaction."""

    def __init__(self, engine: AsyncEngine, consent: ConsentLedger, clock: Clock) -> None:
        self._engine = engine
        self._consent = consent
        self._clock = clock

    async def planned_serials(self, meeting_id: str) -> tuple[str, ...]:
        async with self._engine.connect() as conn:
            stored = await load_plan(conn, meeting_id)
        return tuple(stored.plan.serial_numbers) if stored else ()

    async def repairs(self, meeting_id: str) -> list[RepairDiagnosis]:
        async with self._engine.connect() as conn:
            return await list_repairs(conn, meeting_id)

    async def save_repair(self, meeting_id: str, diagnosis: RepairDiagnosis, *, recorded_by: int) -> None:
        async with self._engine.begin() as conn:
            await save_repair(conn, meeting_id, diagnosis, recorded_by=recorded_by, now=self._clock.now())

    async def meeting_times(self, meeting: Meeting) -> MeetingTimes:
        """Start, end (None while it has not begun; now while it runs) and planned equipment of a meeting."""
        now = self._clock.now()
        async with self._engine.connect() as conn:
            stored = await load_plan(conn, meeting.id)
            created = (
                await conn.execute(select(meetings.c.created_at).where(meetings.c.id == meeting.id))
            ).scalar_one()
        if stored is None:
            return MeetingTimes(stored_utc(created), now, [])
        plan = stored.plan
        end = plan.ends_at if now >= plan.ends_at else (now if now >= plan.starts_at else None)
        return MeetingTimes(plan.starts_at, end, list(plan.serial_numbers))

    async def consents(self, meeting_id: str) -> list[ConsentEntry]:
        """The meeting's consents, each with the role of the link it was given through."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(invitations.c.id, invitations.c.role).where(invitations.c.meeting_id == meeting_id)
                )
            ).all()
        role_of = {link_ref(row.id): row.role for row in rows}
        state = await self._consent.state(meeting_id)
        return consent_entries(state.consents(meeting_id), role_of)

    async def summary(self, meeting_id: str) -> MeetingSummary | None:
        async with self._engine.connect() as conn:
            return await load_summary(conn, meeting_id)

    async def confirm(self, summary: MeetingSummary, *, confirmed_by: int) -> None:
        """Stores the confirmed summary; raises PlanningError when one is already confirmed."""
        async with self._engine.begin() as conn:
            await save_summary(conn, summary, confirmed_by=confirmed_by)
