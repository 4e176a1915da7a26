"""Brukerpass as one service that owns its transactions: the citizen's sign-in (code, linked login), their
requests and agreed meetings, and the centre's side (issuing, revoking, agreeing a time, closing a request),
each change audited in the same transaction.

Codes and login subjects are stored as keyed hashes; the key (derived from the server's secret) is given here
and never stored in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import AuditRecord, DetailValue
from privacy.records.ledgers import AuditLog, Clock
from session.access.audited import staff_actor
from session.access.brukerpass import Holder, MeetingWish, code_hash, subject_hash
from session.access.brukerpass_store import (
    StoredRequest,
    add_request,
    close_request,
    holder_by_code,
    holder_by_id,
    holder_by_subject,
    holders_of,
    issue_holder,
    link_login,
    open_requests,
    revoke_holder,
    schedule_request,
    scheduled_request,
)
from session.departments import Department
from session.meetings import create_meeting


class BrukerpassService:
    """Every read and write of Brukerpass; each method opens and closes its own connection or transaction."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog, clock: Clock, *, hash_key: bytes) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock
        self._key = hash_key

    # --- the citizen -----------------------------------------------------------------------------------------

    async def holder(self, holder_id: int) -> Holder | None:
        """The holder if their agreement is still valid."""
        async with self._engine.connect() as conn:
            holder = await holder_by_id(conn, holder_id)
        return holder if holder is not None and holder.valid(self._clock.now()) else None

    async def holder_by_login(self, subject: str) -> Holder | None:
        """The valid holder whose agreement this ID-porten login is linked to."""
        async with self._engine.connect() as conn:
            holder = await holder_by_subject(conn, subject_hash(self._key, subject))
        return holder if holder is not None and holder.valid(self._clock.now()) else None

    async def sign_in(self, code: str, subject: str | None) -> Holder | None:
        """The valid holder of ``code`` (None for a wrong or ended one), linking ``subject`` to it when given;
        BrukerpassError when that login is linked to another pass."""
        async with self._engine.begin() as conn:
            holder = await holder_by_code(conn, code_hash(self._key, code))
            if holder is None or not holder.valid(self._clock.now()):
                return None
            if subject is not None:
                await link_login(conn, holder.id, subject_hash(self._key, subject))
        return holder

    async def requests_of(self, holder_id: int) -> list[StoredRequest]:
        async with self._engine.connect() as conn:
            return await open_requests(conn, holder_id=holder_id)

    async def ask(self, holder: Holder, wish: MeetingWish) -> None:
        async with self._engine.begin() as conn:
            await add_request(conn, holder, wish, now=self._clock.now())

    async def agreed_meeting(self, request_id: int, holder_id: int) -> tuple[str, datetime, int] | None:
        """(meeting id, start, the staff member who agreed it) of the holder's scheduled request."""
        async with self._engine.connect() as conn:
            return await scheduled_request(conn, request_id=request_id, holder_id=holder_id)

    # --- the centre ------------------------------------------------------------------------------------------

    async def overview(self, centre_id: int) -> tuple[list[Holder], list[StoredRequest]]:
        async with self._engine.connect() as conn:
            return await holders_of(conn, centre_id), await open_requests(conn, centre_id=centre_id)

    async def holders(self, centre_id: int) -> list[Holder]:
        async with self._engine.connect() as conn:
            return await holders_of(conn, centre_id)

    async def issue(self, *, staff_id: int, centre_id: int, reference: str, code: str) -> int:
        async with self._engine.begin() as conn:
            holder_id = await issue_holder(
                conn,
                centre_id=centre_id,
                reference=reference,
                code_hash=code_hash(self._key, code),
                issued_by=staff_id,
                now=self._clock.now(),
            )
            await self._record(conn, "issue", staff_id, centre_id, {"holder": holder_id})
        return holder_id

    async def revoke(self, *, staff_id: int, centre_id: int, holder_id: int) -> bool:
        async with self._engine.begin() as conn:
            done = await revoke_holder(conn, holder_id=holder_id, centre_id=centre_id, now=self._clock.now())
            if done:
                await self._record(conn, "revoke", staff_id, centre_id, {"holder": holder_id})
        return done

    async def agree_time(
        self,
        *,
        staff_id: int,
        organisation_id: int,
        centre_id: int,
        request_id: int,
        starts: datetime,
        meeting_of: Callable[[Department], tuple[str, str]],
    ) -> bool:
        """Creates the meeting a holder asked for at ``starts`` (``meeting_of`` gives its topic and kind); False
        when the request is not open at this centre or already has a time."""
        async with self._engine.begin() as conn:
            found = next((r for r in await open_requests(conn, centre_id=centre_id) if r.id == request_id), None)
            if found is None or found.starts_at is not None:
                return False
            topic, kind = meeting_of(found.department)
            meeting = await create_meeting(
                conn,
                organisation_id=organisation_id,
                centre_id=centre_id,
                topic=topic,
                kind=kind,
                created_by=staff_id,
                now=self._clock.now(),
            )
            await schedule_request(
                conn, request_id=request_id, centre_id=centre_id, meeting_id=meeting.id, starts_at=starts,
                staff_id=staff_id,
            )  # fmt: skip
            await self._record(conn, "schedule", staff_id, centre_id, {"request": request_id}, meeting.id)
        return True

    async def close(self, *, staff_id: int, centre_id: int, request_id: int) -> bool:
        async with self._engine.begin() as conn:
            done = await close_request(conn, request_id=request_id, centre_id=centre_id, staff_id=staff_id)
            if done:
                await self._record(conn, "close", staff_id, centre_id, {"request": request_id})
        return done

    async def _record(
        self,
        conn: AsyncConnection,
        action: str,
        staff_id: int,
        centre_id: int,
        details: dict[str, DetailValue],
        meeting_id: str | None = None,
    ) -> None:
        """Every change to a pass or a request is in the audit chain, in the same transaction as the change."""
        record = AuditRecord(f"brukerpass.{action}", staff_actor(staff_id), (centre_id,), meeting_id, details)
        await self._audit.append(record, conn=conn)
