"""What a person needs to read a recording's line: the meeting's topic and the organisations by name, and
times in Europe/Oslo. Looked up per page from ids, so the recordings' own rows keep ids only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from session.tables import meetings, organisations
from web.audit_view import local_time


async def topics_and_orgs(
    conn: AsyncConnection, meeting_ids: Iterable[str], org_ids: Iterable[int]
) -> tuple[dict[str, str], dict[int, str]]:
    wanted_meetings, wanted_orgs = sorted(set(meeting_ids)), sorted(set(org_ids))
    topics: dict[str, str] = {}
    names: dict[int, str] = {}
    if wanted_meetings:
        rows = await conn.execute(select(meetings.c.id, meetings.c.topic).where(meetings.c.id.in_(wanted_meetings)))
        topics = {str(r.id): str(r.topic) for r in rows}
    if wanted_orgs:
        rows = await conn.execute(
            select(organisations.c.id, organisations.c.name).where(organisations.c.id.in_(wanted_orgs))
        )
        names = {int(r.id): str(r.name) for r in rows}
    return topics, names


def local_minutes(moment: datetime | None, lang: str) -> str:
    """«24.11.2025, 10:03» in Europe/Oslo (the page says so once); «–» for none."""
    return "–" if moment is None else local_time(moment, lang).rsplit(":", 1)[0]
