"""Who a staff login stands for now: the active staff row, its organisation and its roles, read in one place.

A signed session cookie names a staff id and the rights generation it was issued under; a member who was
deactivated, logged out everywhere or lost a right since is no longer found here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from session.access.organisations import staff_roles_of
from session.access.revocation import session_generation, session_is_current
from session.access.staff_roles import StaffRole
from session.tables import organisations, staff, staff_roles


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    display_name: str
    organisation_id: int
    organisation_kind: str
    organisation_parent: int | None
    roles: frozenset[StaffRole]


async def current_member(engine: AsyncEngine, staff_id: int, generation: int) -> StaffMember | None:
    """The member behind a session, or None when the session is stale or the member inactive."""
    async with engine.connect() as conn:
        if not await session_is_current(conn, staff_id, generation):
            return None  # logged out everywhere, or a right was removed since this cookie was issued
        query = (
            select(
                staff.c.id,
                staff.c.display_name,
                staff.c.organisation_id,
                organisations.c.kind,
                organisations.c.parent_id,
            )
            .join(organisations, organisations.c.id == staff.c.organisation_id)
            .where(staff.c.id == staff_id, staff.c.active)
        )
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        roles = frozenset(role for role, _ in await staff_roles_of(conn, staff_id))
    return StaffMember(row.id, row.display_name, row.organisation_id, row.kind, row.parent_id, roles)


async def active_subjects(engine: AsyncEngine) -> list[tuple[str, str]]:
    """(login subject, display name) of every active staff member: the development login offers these."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(staff.c.subject, staff.c.display_name).where(staff.c.active))
        return [(r.subject, r.display_name) for r in rows]


@dataclass(frozen=True, slots=True)
class StaffLogin:
    """What a login by ``subject`` gives: the active staff row (if any), its roles and its session generation."""

    staff_id: int | None
    roles: tuple[str, ...]
    generation: int


async def login_of(engine: AsyncEngine, subject: str) -> StaffLogin:
    """The active staff member with this login subject; ``staff_id`` None for someone without a staff row."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(staff.c.id).where(staff.c.subject == subject, staff.c.active))).first()
        if row is None:
            return StaffLogin(None, (), 0)
        query = select(staff_roles.c.role).where(staff_roles.c.staff_id == row.id)
        roles = tuple(str(role) for role in (await conn.execute(query)).scalars().all())
        return StaffLogin(row.id, roles, await session_generation(conn, row.id))
