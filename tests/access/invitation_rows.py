"""Raw invitation rows for tests of isolation and revocation that need an Invitation without a signed link."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from session.access.link_tokens import token_hash
from session.errors import LinkExpired, LinkInvalid, LinkRevoked
from session.meetings import Invitation
from session.roles import Role
from session.tables import invitations


async def issue_invitation(
    conn: AsyncConnection,
    *,
    meeting_id: str,
    role: Role,
    now: datetime,
    ttl: timedelta,
    host: bool = False,
    staff_id: int | None = None,
) -> str:
    """Create a join link for one role in one meeting and return its token (shown once, stored hashed)."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        insert(invitations).values(
            meeting_id=meeting_id,
            role=role.value,
            token_hash=token_hash(token),
            host=host,
            staff_id=staff_id,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


def _aware(value: datetime, like: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC.
    return value.replace(tzinfo=like.tzinfo) if value.tzinfo is None else value


async def resolve_invitation(conn: AsyncConnection, token: str, now: datetime) -> Invitation:
    """The invitation behind ``token``; LinkInvalid, LinkRevoked or LinkExpired otherwise."""
    if not token or len(token) > 200:
        raise LinkInvalid()
    row = (await conn.execute(select(invitations).where(invitations.c.token_hash == token_hash(token)))).first()
    if row is None:
        raise LinkInvalid()
    if row.revoked_at is not None:
        raise LinkRevoked()
    expires_at = row.expires_at.replace(tzinfo=now.tzinfo) if row.expires_at.tzinfo is None else row.expires_at
    if expires_at <= now:
        raise LinkExpired()
    return Invitation(row.id, row.meeting_id, Role(row.role), bool(row.host), row.staff_id, expires_at)
