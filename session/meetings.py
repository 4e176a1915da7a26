"""Meetings and their join links: creation, issuing links per role, resolving a link.

A link token is 256 random bits shown once; only its SHA-256 is stored, so the database alone cannot be used
to join. Time is passed in so that expiry is tested without waiting.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.records.validators import find_identity_numbers
from privacy.user_text import Text
from session.errors import MeetingInvalid
from session.roles import Role
from session.tables import meetings, organisations

MEETING_KINDS = ("bolig", "mobilitet", "kommunikasjon", "reparasjon", "annet")
TOPIC_MAX = 200


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str
    organisation_id: int
    centre_id: int | None
    topic: str
    kind: str
    created_by: int
    status: str


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    meeting_id: str
    role: Role
    host: bool
    staff_id: int | None
    expires_at: datetime


def clean_text(value: str, *, field: Text, max_len: int, required: bool = True) -> str:
    """Trimmed single-line text without control characters, or MeetingInvalid saying what is wrong."""
    value = value.strip()
    if required and not value:
        raise MeetingInvalid(Text("err.input.required", field=field))
    if len(value) > max_len:
        raise MeetingInvalid(Text("err.input.too_long", field=field, max=max_len))
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise MeetingInvalid(Text("err.input.control_chars", field=field))
    if find_identity_numbers(value):  # the topic shows on the citizen's phone and in every record of the meeting
        raise MeetingInvalid(Text("err.input.identity_number", field=field))
    return value


async def create_meeting(
    conn: AsyncConnection,
    *,
    organisation_id: int,
    centre_id: int | None,
    topic: str,
    kind: str,
    created_by: int,
    now: datetime,
) -> Meeting:
    topic = clean_text(topic, field=Text("field.topic"), max_len=TOPIC_MAX)
    if kind not in MEETING_KINDS:
        raise MeetingInvalid(Text("err.meeting.unknown_kind"))
    meeting_id = secrets.token_hex(8)
    await conn.execute(
        insert(meetings).values(
            id=meeting_id,
            organisation_id=organisation_id,
            centre_id=centre_id,
            topic=topic,
            kind=kind,
            created_by=created_by,
            created_at=now,
            status="planned",
        )
    )
    return Meeting(meeting_id, organisation_id, centre_id, topic, kind, created_by, "planned")


async def get_meeting(conn: AsyncConnection, meeting_id: str) -> Meeting | None:
    row = (await conn.execute(select(meetings).where(meetings.c.id == meeting_id))).first()
    if row is None:
        return None
    return Meeting(row.id, row.organisation_id, row.centre_id, row.topic, row.kind, row.created_by, row.status)


async def meeting_exists(conn: AsyncConnection, meeting_id: str) -> bool:
    return (await conn.execute(select(meetings.c.id).where(meetings.c.id == meeting_id))).first() is not None


async def meeting_org_ids(conn: AsyncConnection, meeting_id: str) -> tuple[int, ...]:
    """The meeting's organisations and their parents (a municipality sees its units' meetings)."""
    row = (
        await conn.execute(select(meetings.c.organisation_id, meetings.c.centre_id).where(meetings.c.id == meeting_id))
    ).one()
    direct = [o for o in (row.organisation_id, row.centre_id) if o is not None]
    parents = (await conn.execute(select(organisations.c.parent_id).where(organisations.c.id.in_(direct)))).scalars()
    return tuple(sorted({*direct, *(p for p in parents if p is not None)}))
