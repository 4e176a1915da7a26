"""Brukerpass holders and requests in the database; each function runs in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from session.access.brukerpass import HOLDER_VALIDITY, BrukerpassError, Holder, MeetingWish, RequestState
from session.access.brukerpass_tables import brukerpass_holders as H
from session.access.brukerpass_tables import brukerpass_requests as R
from session.departments import Department
from session.stored_time import stored_utc, stored_utc_or_none


def _holder(row: Row[tuple[object, ...]]) -> Holder:
    m = row._mapping
    return Holder(
        id=m["id"],
        centre_id=m["centre_id"],
        reference=m["reference"],
        issued_at=stored_utc(m["issued_at"]),
        expires_at=stored_utc(m["expires_at"]),
        revoked_at=stored_utc_or_none(m["revoked_at"]),
        linked=m["subject_hash"] is not None,
    )


async def issue_holder(
    conn: AsyncConnection, *, centre_id: int, reference: str, code_hash: str, issued_by: int, now: datetime
) -> int:
    result = await conn.execute(
        insert(H).values(
            centre_id=centre_id,
            reference=reference,
            code_hash=code_hash,
            issued_by=issued_by,
            issued_at=now,
            expires_at=now + HOLDER_VALIDITY,
        )
    )
    return int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0


async def holder_by_id(conn: AsyncConnection, holder_id: int) -> Holder | None:
    row = (await conn.execute(select(H).where(H.c.id == holder_id))).first()
    return None if row is None else _holder(row)


async def holder_by_code(conn: AsyncConnection, code_hash: str) -> Holder | None:
    row = (await conn.execute(select(H).where(H.c.code_hash == code_hash))).first()
    return None if row is None else _holder(row)


async def holder_by_subject(conn: AsyncConnection, subject_hash: str) -> Holder | None:
    row = (await conn.execute(select(H).where(H.c.subject_hash == subject_hash))).first()
    return None if row is None else _holder(row)


async def link_login(conn: AsyncConnection, holder_id: int, subject_hash: str) -> None:
    """Links an ID-porten login to a holder once; a holder already linked to another login stays as it is, and a
    login already linked to another holder is refused (one agreement per person)."""
    other = await holder_by_subject(conn, subject_hash)
    if other is not None and other.id != holder_id:
        raise BrukerpassError("bp.error.login.other", "code")
    current = (await conn.execute(select(H.c.subject_hash).where(H.c.id == holder_id))).scalar_one_or_none()
    if current is not None and current != subject_hash:
        raise BrukerpassError("bp.error.code.other", "code")
    await conn.execute(update(H).where(H.c.id == holder_id).values(subject_hash=subject_hash))


async def revoke_holder(conn: AsyncConnection, *, holder_id: int, centre_id: int, now: datetime) -> bool:
    result = await conn.execute(
        update(H)
        .where(H.c.id == holder_id, H.c.centre_id == centre_id, H.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


async def holders_of(conn: AsyncConnection, centre_id: int) -> list[Holder]:
    rows = await conn.execute(select(H).where(H.c.centre_id == centre_id).order_by(H.c.issued_at.desc()))
    return [_holder(r) for r in rows]


@dataclass(frozen=True, slots=True)
class StoredRequest:
    id: int
    holder_id: int
    reference: str
    department: Department
    topic: str
    serial_number: str | None
    wish: str
    state: RequestState
    created_at: datetime
    meeting_id: str | None
    starts_at: datetime | None


async def add_request(conn: AsyncConnection, holder: Holder, wish: MeetingWish, *, now: datetime) -> int:
    result = await conn.execute(
        insert(R).values(
            holder_id=holder.id,
            centre_id=holder.centre_id,
            department=wish.department.value,
            topic=wish.topic,
            serial_number=wish.serial_number,
            wish=wish.when,
            state=RequestState.NEW.value,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0


async def open_requests(
    conn: AsyncConnection, *, holder_id: int | None = None, centre_id: int | None = None
) -> list[StoredRequest]:
    """Requests not closed, oldest first: a holder's own, or all of a centre."""
    query = (
        select(R, H.c.reference)
        .join(H, H.c.id == R.c.holder_id)
        .where(R.c.state != RequestState.CLOSED.value)
        .order_by(R.c.created_at)
    )
    if holder_id is not None:
        query = query.where(R.c.holder_id == holder_id)
    if centre_id is not None:
        query = query.where(R.c.centre_id == centre_id)
    return [
        StoredRequest(
            id=m["id"],
            holder_id=m["holder_id"],
            reference=m["reference"],
            department=Department(m["department"]),
            topic=m["topic"],
            serial_number=m["serial_number"],
            wish=m["wish"],
            state=RequestState(m["state"]),
            created_at=stored_utc(m["created_at"]),
            meeting_id=m["meeting_id"],
            starts_at=stored_utc_or_none(m["starts_at"]),
        )
        for m in (r._mapping for r in await conn.execute(query))
    ]


async def schedule_request(
    conn: AsyncConnection, *, request_id: int, centre_id: int, meeting_id: str, starts_at: datetime, staff_id: int
) -> bool:
    result = await conn.execute(
        update(R)
        .where(R.c.id == request_id, R.c.centre_id == centre_id, R.c.state == RequestState.NEW.value)
        .values(state=RequestState.SCHEDULED.value, meeting_id=meeting_id, starts_at=starts_at, handled_by=staff_id)
    )
    return bool(result.rowcount)


async def close_request(conn: AsyncConnection, *, request_id: int, centre_id: int, staff_id: int) -> bool:
    """Done with (or not for the centre): closed requests are kept out of every list, the text with them."""
    result = await conn.execute(
        update(R)
        .where(R.c.id == request_id, R.c.centre_id == centre_id, R.c.state != RequestState.CLOSED.value)
        .values(state=RequestState.CLOSED.value, handled_by=staff_id, topic="", wish="", serial_number=None)
    )
    return bool(result.rowcount)


async def scheduled_request(
    conn: AsyncConnection, *, request_id: int, holder_id: int
) -> tuple[str, datetime, int] | None:
    """(meeting id, agreed time, the staff member who agreed it) for the holder's own scheduled request."""
    row = (
        await conn.execute(
            select(R.c.meeting_id, R.c.starts_at, R.c.handled_by).where(
                R.c.id == request_id, R.c.holder_id == holder_id, R.c.state == RequestState.SCHEDULED.value
            )
        )
    ).first()
    if row is None or row.meeting_id is None or row.starts_at is None or row.handled_by is None:
        return None
    return row.meeting_id, stored_utc(row.starts_at), row.handled_by
