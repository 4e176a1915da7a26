"""Centre roles that come from NAV's directory (Entra ID groups) rather than from a grant in this service.

At each login the person's centre roles at the configured centre are set to exactly what their groups give:
missing ones are added, roles the directory no longer gives are removed (and the person's other sessions end,
as with any removal), and the change is audited with ids only. Roles held at other organisations, and the
municipal roles an access manager grants, are never touched: the directory speaks for the centre alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import AuditRecord, DetailValue
from privacy.records.ledgers import AuditLog, Clock
from session.access.audited import run_audited, system_actor, with_parents
from session.access.revocation import RevocationBus, bump_session_generation, session_generation
from session.access.staff_roles import CENTRE_ROLES, StaffRole
from session.tables import staff, staff_roles


@dataclass(frozen=True, slots=True)
class DirectoryLogin:
    staff_id: int
    generation: int
    """The session generation a new cookie must carry (after any removal in this sync)."""
    roles: frozenset[StaffRole]
    removed: frozenset[StaffRole] = frozenset()


async def sync_directory_roles(
    engine: AsyncEngine,
    audit: AuditLog,
    clock: Clock,
    bus: RevocationBus,
    *,
    subject: str,
    display_name: str,
    centre_id: int,
    roles: frozenset[StaffRole],
) -> DirectoryLogin:
    """Create or update the person and set their centre roles at ``centre_id`` to ``roles``."""
    wanted = roles & CENTRE_ROLES

    async def work(conn: AsyncConnection) -> DirectoryLogin:
        row = (await conn.execute(select(staff.c.id, staff.c.active).where(staff.c.subject == subject))).first()
        if row is None:
            if not wanted:
                return DirectoryLogin(0, 0, frozenset())
            inserted = await conn.execute(
                insert(staff).values(subject=subject, display_name=display_name, organisation_id=centre_id, active=True)
            )
            staff_id = int(inserted.inserted_primary_key[0]) if inserted.inserted_primary_key else 0
        else:
            staff_id = int(row.id)
            await conn.execute(
                update(staff).where(staff.c.id == staff_id).values(display_name=display_name, active=True)
            )
        held_query = select(staff_roles.c.role).where(
            staff_roles.c.staff_id == staff_id, staff_roles.c.organisation_id == centre_id
        )
        held = {StaffRole(r) for r in (await conn.execute(held_query)).scalars()} & CENTRE_ROLES
        added, removed = wanted - held, held - wanted
        for role in sorted(added):
            await conn.execute(
                insert(staff_roles).values(staff_id=staff_id, role=role.value, organisation_id=centre_id)
            )
        if removed:
            await conn.execute(
                delete(staff_roles).where(
                    staff_roles.c.staff_id == staff_id,
                    staff_roles.c.organisation_id == centre_id,
                    staff_roles.c.role.in_(sorted(r.value for r in removed)),
                )
            )
            await bump_session_generation(conn, staff_id, clock.now())
        if added or removed:
            details: dict[str, DetailValue] = {
                "target_staff": staff_id,
                "org_id": centre_id,
                "added": ",".join(sorted(added)),
                "removed": ",".join(sorted(removed)),
            }
            orgs = await with_parents(conn, [centre_id])
            record = AuditRecord("access.directory_sync", system_actor("entra"), orgs, None, details)
            await audit.append(record, conn=conn)
        generation = await session_generation(conn, staff_id)
        return DirectoryLogin(staff_id, generation, frozenset(wanted), frozenset(removed))

    login = await run_audited(engine, audit, work)
    if login.removed:  # only after the commit, as every removal: the person's live calls end
        bus.revoke(login.staff_id)
    return login
