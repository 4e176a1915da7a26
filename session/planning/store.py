"""Storing plans, invitation sequence numbers, room codes, opening-hour exceptions, repairs and summaries.

Every function takes an open ``AsyncConnection`` and runs inside the caller's transaction (``engine.begin()``),
so that a plan, its list rows and the meeting's times are written together or not at all. Values arrive already
validated (``parse_plan``, ``make_diagnosis``, ``build_summary``); these functions only store and read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import case, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.user_text import Text
from session.access.attempt_limits import BackoffPolicy
from session.departments import Department
from session.planning.errors import PlanInvalid, SummaryInvalid
from session.planning.opening_hours import DayException, OpeningHours, Period
from session.planning.plan import MeetingPlan, ParticipantKind
from session.planning.repair import PartOrder, RepairDecision, RepairDiagnosis
from session.planning.room_code import RoomCredentials, new_room_credentials, normalize_pin, normalize_room_code
from session.planning.room_code import hash_pin as _hash_pin
from session.planning.room_code import pin_matches as _pin_matches
from session.planning.summary import MeetingSummary, summary_from_json, summary_to_json
from session.planning.tables import (
    meeting_plan_items,
    meeting_plans,
    meeting_summaries,
    opening_exceptions,
    repair_diagnoses,
    repair_parts,
    room_codes,
)
from session.roles import Role
from session.stored_time import stored_utc, stored_utc_or_none
from session.tables import meetings

ROOM_CODE_BACKOFF = BackoffPolicy(free=5, first_delay=2.0, max_delay=3600.0, forget_after=24 * 3600.0)
"""Wrong PINs per room code: five typing mistakes are free, then each try waits twice as long (up to an hour)."""
_DUMMY_HASH = "scrypt$" + "00" * 16 + "$" + "00" * 32


# --- plans and invitation sequence --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredPlan:
    plan: MeetingPlan
    sequence: int
    """SEQUENCE for the next invitation or cancellation to send about this meeting."""
    cancelled_at: datetime | None


async def save_plan(conn: AsyncConnection, meeting_id: str, plan: MeetingPlan, *, now: datetime) -> int:
    """Store the plan (first time or a change) and the meeting's topic, kind and times; returns the SEQUENCE
    the invitation for this version must carry (0 first, then one more on every change)."""
    row = (
        await conn.execute(
            select(meeting_plans.c.ics_sequence, meeting_plans.c.cancelled_at).where(
                meeting_plans.c.meeting_id == meeting_id
            )
        )
    ).first()
    values = {
        "kind": plan.kind,
        "starts_at": plan.starts_at,
        "ends_at": plan.ends_at,
        "topic": plan.topic,
        "filming": plan.filming,
        "camera_operator": plan.camera_operator.value,
        "updated_at": now,
    }
    if row is None:
        sequence = 0
        await conn.execute(
            insert(meeting_plans).values(meeting_id=meeting_id, ics_sequence=0, created_at=now, **values)
        )
    else:
        if row.cancelled_at is not None:
            raise PlanInvalid("meeting", Text("err.plan.cancelled"))
        sequence = int(row.ics_sequence) + 1
        await conn.execute(
            update(meeting_plans)
            .where(meeting_plans.c.meeting_id == meeting_id)
            .values(ics_sequence=sequence, **values)
        )
        await conn.execute(delete(meeting_plan_items).where(meeting_plan_items.c.meeting_id == meeting_id))
    items = [
        *(("participant", p.value) for p in plan.participants),
        *(("drawing", d) for d in plan.drawings),
        *(("equipment", s) for s in plan.serial_numbers),
    ]
    rows = [
        {"meeting_id": meeting_id, "item_kind": kind, "position": position, "value": value}
        for position, (kind, value) in enumerate(items)
    ]
    if rows:
        await conn.execute(insert(meeting_plan_items), rows)
    await conn.execute(
        update(meetings)
        .where(meetings.c.id == meeting_id)
        .values(topic=plan.topic, kind=plan.kind, starts_at=plan.starts_at, ends_at=plan.ends_at)
    )
    return sequence


async def load_plan(conn: AsyncConnection, meeting_id: str) -> StoredPlan | None:
    row = (await conn.execute(select(meeting_plans).where(meeting_plans.c.meeting_id == meeting_id))).first()
    if row is None:
        return None
    items = (
        await conn.execute(
            select(meeting_plan_items.c.item_kind, meeting_plan_items.c.value)
            .where(meeting_plan_items.c.meeting_id == meeting_id)
            .order_by(meeting_plan_items.c.position)
        )
    ).all()
    starts_at = stored_utc(row.starts_at)
    plan = MeetingPlan(
        kind=row.kind,
        starts_at=starts_at,
        ends_at=stored_utc(row.ends_at),
        topic=row.topic,
        filming=row.filming,
        camera_operator=Role(row.camera_operator),
        participants=tuple(ParticipantKind(v) for k, v in items if k == "participant"),
        drawings=tuple(v for k, v in items if k == "drawing"),
        serial_numbers=tuple(v for k, v in items if k == "equipment"),
    )
    cancelled = stored_utc_or_none(row.cancelled_at)
    return StoredPlan(plan, row.ics_sequence, cancelled)


async def cancel_plan(conn: AsyncConnection, meeting_id: str, *, now: datetime) -> int:
    """Mark the meeting's plan cancelled, end its room code, and return the SEQUENCE for the METHOD:CANCEL."""
    row = (
        await conn.execute(
            select(meeting_plans.c.ics_sequence, meeting_plans.c.cancelled_at).where(
                meeting_plans.c.meeting_id == meeting_id
            )
        )
    ).first()
    if row is None:
        raise PlanInvalid("meeting", Text("err.plan.not_found"))
    if row.cancelled_at is not None:
        raise PlanInvalid("meeting", Text("err.plan.already_cancelled"))
    sequence = int(row.ics_sequence) + 1
    await conn.execute(
        update(meeting_plans)
        .where(meeting_plans.c.meeting_id == meeting_id)
        .values(ics_sequence=sequence, cancelled_at=now, updated_at=now)
    )
    await conn.execute(update(room_codes).where(room_codes.c.meeting_id == meeting_id).values(expires_at=now))
    return sequence


# --- room code and PIN --------------------------------------------------------------------------------------


class RoomCodeOutcome(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    WRONG_PIN = "wrong_pin"
    LOCKED = "locked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class RoomCodeCheck:
    """The result of typing a room code and PIN; ``meeting_id`` only when ``outcome`` is OK.

    A result rather than an exception, so that the caller commits the failure count even when refusing.
    """

    outcome: RoomCodeOutcome
    meeting_id: str | None = None


async def issue_room_code(
    conn: AsyncConnection, meeting_id: str, *, now: datetime, expires_at: datetime, pepper: bytes = b""
) -> RoomCredentials:
    """A new code + PIN for the meeting (replacing any earlier one); the PIN is returned once and stored hashed."""
    for _ in range(10):
        credentials = new_room_credentials()
        taken = (
            await conn.execute(select(room_codes.c.meeting_id).where(room_codes.c.code == credentials.code))
        ).first()
        if taken is None:
            break
    else:  # pragma: no cover - 10 collisions in a space of 10^8 codes
        raise RuntimeError("could not find a free room code")
    pin_hash = await asyncio.to_thread(_hash_pin, credentials.code, credentials.pin, pepper=pepper)
    await conn.execute(delete(room_codes).where(room_codes.c.meeting_id == meeting_id))
    await conn.execute(
        insert(room_codes).values(
            meeting_id=meeting_id,
            code=credentials.code,
            pin_hash=pin_hash,
            created_at=now,
            expires_at=expires_at,
            failed_attempts=0,
        )
    )
    return credentials


async def check_room_code(
    conn: AsyncConnection,
    code: str,
    pin: str,
    *,
    now: datetime,
    pepper: bytes = b"",
    policy: BackoffPolicy = ROOM_CODE_BACKOFF,
) -> RoomCodeCheck:
    """Check a typed room code and PIN. Wrong PINs are counted per code (in the database, so every server
    process sees them) and each one beyond the free ones makes the next try wait exponentially longer."""
    compact_code, compact_pin = normalize_room_code(code), normalize_pin(pin)
    if compact_code is None:
        return RoomCodeCheck(RoomCodeOutcome.UNKNOWN)
    row = (await conn.execute(select(room_codes).where(room_codes.c.code == compact_code))).first()
    if row is None:
        # Spend the same hashing time as for a known code, so response times do not reveal which codes exist.
        await asyncio.to_thread(_pin_matches, compact_code, compact_pin or "", _DUMMY_HASH, pepper=pepper)
        return RoomCodeCheck(RoomCodeOutcome.UNKNOWN)
    if stored_utc(row.expires_at) <= now:
        return RoomCodeCheck(RoomCodeOutcome.EXPIRED)
    waiting_until = stored_utc_or_none(row.locked_until)
    if waiting_until is not None and waiting_until > now:
        return RoomCodeCheck(RoomCodeOutcome.LOCKED)
    matches = compact_pin is not None and await asyncio.to_thread(
        _pin_matches, compact_code, compact_pin, row.pin_hash, pepper=pepper
    )
    where = room_codes.c.meeting_id == row.meeting_id
    if matches:
        await conn.execute(update(room_codes).where(where).values(failed_attempts=0, locked_until=None))
        return RoomCodeCheck(RoomCodeOutcome.OK, row.meeting_id)
    # One statement adds the failure (not a read and a write): two processes failing at once both count.
    quiet = room_codes.c.locked_until < now - timedelta(seconds=policy.forget_after)
    counted = (
        update(room_codes)
        .where(where)
        .values(failed_attempts=case((quiet, 1), else_=room_codes.c.failed_attempts + 1))
        .returning(room_codes.c.failed_attempts)
    )
    failures = int((await conn.execute(counted)).scalar_one())
    delay = policy.delay(failures)
    if delay <= 0:
        return RoomCodeCheck(RoomCodeOutcome.WRONG_PIN)
    until = now + timedelta(seconds=delay)
    later = room_codes.c.locked_until.is_(None) | (room_codes.c.locked_until < until)
    await conn.execute(update(room_codes).where(where, later).values(locked_until=until))
    return RoomCodeCheck(RoomCodeOutcome.LOCKED)


# --- opening-hour exceptions --------------------------------------------------------------------------------


async def save_opening_exception(
    conn: AsyncConnection, *, centre_id: int, department: Department, exception: DayException
) -> None:
    """Store (or replace) the exception for one day; one period at most per stored day."""
    if len(exception.periods) > 1:
        raise ValueError("a stored exception has at most one period")
    period = exception.periods[0] if exception.periods else None
    key = (
        (opening_exceptions.c.centre_id == centre_id)
        & (opening_exceptions.c.department == department.value)
        & (opening_exceptions.c.day == exception.day)
    )
    await conn.execute(delete(opening_exceptions).where(key))
    await conn.execute(
        insert(opening_exceptions).values(
            centre_id=centre_id,
            department=department.value,
            day=exception.day,
            opens=period.opens if period else None,
            closes=period.closes if period else None,
            reason=exception.reason,
        )
    )


async def load_opening_exceptions(
    conn: AsyncConnection, *, centre_id: int, department: Department, start: date, end: date
) -> list[DayException]:
    """The stored exceptions from ``start`` to ``end`` (inclusive), by date."""
    rows = await conn.execute(
        select(opening_exceptions)
        .where(
            opening_exceptions.c.centre_id == centre_id,
            opening_exceptions.c.department == department.value,
            opening_exceptions.c.day >= start,
            opening_exceptions.c.day <= end,
        )
        .order_by(opening_exceptions.c.day)
    )
    return [
        DayException(row.day, (Period(row.opens, row.closes),) if row.opens is not None else (), row.reason)
        for row in rows
    ]


def with_exceptions(hours: OpeningHours, exceptions: Iterable[DayException]) -> OpeningHours:
    """``hours`` with stored exceptions added (a stored exception replaces a configured one for its day)."""
    merged = dict(hours.exceptions)
    merged.update({exception.day: exception for exception in exceptions})
    return dataclasses.replace(hours, exceptions=merged)


# --- repair diagnoses ---------------------------------------------------------------------------------------


async def save_repair(
    conn: AsyncConnection, meeting_id: str, diagnosis: RepairDiagnosis, *, recorded_by: int, now: datetime
) -> int:
    result = await conn.execute(
        insert(repair_diagnoses).values(
            meeting_id=meeting_id,
            serial_number=diagnosis.serial_number,
            fault_description=diagnosis.fault_description,
            decision=diagnosis.decision.value,
            next_step=diagnosis.next_step,
            recorded_by=recorded_by,
            recorded_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    diagnosis_id = int(key[0])
    if diagnosis.parts:
        await conn.execute(
            insert(repair_parts),
            [
                {
                    "diagnosis_id": diagnosis_id,
                    "position": position,
                    "part_number": part.part_number,
                    "description": part.description,
                    "quantity": part.quantity,
                }
                for position, part in enumerate(diagnosis.parts)
            ],
        )
    return diagnosis_id


async def list_repairs(conn: AsyncConnection, meeting_id: str) -> list[RepairDiagnosis]:
    """The meeting's diagnoses in the order they were recorded."""
    rows = (
        await conn.execute(
            select(repair_diagnoses).where(repair_diagnoses.c.meeting_id == meeting_id).order_by(repair_diagnoses.c.id)
        )
    ).all()
    found: list[RepairDiagnosis] = []
    for row in rows:
        parts = await conn.execute(
            select(repair_parts).where(repair_parts.c.diagnosis_id == row.id).order_by(repair_parts.c.position)
        )
        found.append(
            RepairDiagnosis(
                serial_number=row.serial_number,
                fault_description=row.fault_description,
                decision=RepairDecision(row.decision),
                parts=tuple(PartOrder(p.part_number, p.description, p.quantity) for p in parts),
                next_step=row.next_step,
            )
        )
    return found


# --- summaries ----------------------------------------------------------------------------------------------


async def save_summary(conn: AsyncConnection, summary: MeetingSummary, *, confirmed_by: int) -> str:
    """Store the confirmed summary as its JSON export; returns the document's SHA-256. A confirmed summary is a
    journal record and is not replaced."""
    exists = (
        await conn.execute(
            select(meeting_summaries.c.meeting_id).where(meeting_summaries.c.meeting_id == summary.meeting_id)
        )
    ).first()
    if exists is not None:
        raise SummaryInvalid("meeting_id", Text("err.summary.already_confirmed"))
    document = summary_to_json(summary)
    digest = hashlib.sha256(document.encode()).hexdigest()
    await conn.execute(
        insert(meeting_summaries).values(
            meeting_id=summary.meeting_id,
            document=document,
            document_sha256=digest,
            confirmed_by=confirmed_by,
            confirmed_at=summary.confirmed_at,
        )
    )
    return digest


async def load_summary(conn: AsyncConnection, meeting_id: str) -> MeetingSummary | None:
    row = (
        await conn.execute(select(meeting_summaries.c.document).where(meeting_summaries.c.meeting_id == meeting_id))
    ).first()
    return None if row is None else summary_from_json(row.document)
