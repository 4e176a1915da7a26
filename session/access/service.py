"""What the access manager's, the centre administrator's and the compliance officer's pages read, as one service
that owns its connections: role checks, the organisations a centre opens, names for ids, and the audit trail in
the reader's scope with the people and units it names.

The changes themselves (rights, requests, organisations) are made by :class:`session.access.delegation.Access` and
:class:`session.access.organisations.Organisations`, which audit them in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import ActorKind, AuditRecord
from privacy.records.ledgers import AuditLog, AuditView
from session.access.isolation import audit_entries_for, staff_link_usable
from session.access.meeting_parties import meeting_parties
from session.access.organisations import Organisation, audit_scope, find_by_org_number, holds_role, org_scope
from session.access.staff_roles import StaffRole
from session.meetings import Invitation, meeting_org_ids
from session.tables import meetings, organisations, staff, staff_roles

STAFF_REF = re.compile(r"staff-(\d{1,12})")


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuditReading:
    """Audit entries in a compliance officer's scope, with the people and units they name (looked up now)."""

    views: list[AuditView]
    people: dict[int, Person]
    units: dict[int, str]


class AccessService:
    """Reads for the access, organisation and audit pages; every method opens and closes its own connection."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog) -> None:
        self._engine = engine
        self._audit = audit

    async def link_usable(self, invitation: Invitation, staff_id: int | None, generation: int | None) -> bool:
        """Whether a join link may be used by this caller (see :func:`session.access.isolation.staff_link_usable`):
        a staff member's own link only with their current session and while their rights cover the meeting."""
        async with self._engine.connect() as conn:
            return await staff_link_usable(conn, invitation, staff_id, generation)

    async def meeting_owners(self, meeting_id: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The organisations a live meeting's records belong to, and the parties it is held between."""
        async with self._engine.connect() as conn:
            return await meeting_org_ids(conn, meeting_id), await meeting_parties(conn, meeting_id)

    async def holds_role(self, staff_id: int, role: StaffRole) -> bool:
        async with self._engine.connect() as conn:
            return await holds_role(conn, staff_id, role)

    async def org_scope(self, staff_id: int) -> frozenset[int]:
        """The organisations whose objects the staff member may see."""
        async with self._engine.connect() as conn:
            return await org_scope(conn, staff_id)

    async def audit_scope(self, staff_id: int) -> frozenset[int]:
        """The organisations whose trail the staff member may read (empty for anyone but a compliance officer)."""
        async with self._engine.connect() as conn:
            return await audit_scope(conn, staff_id)

    async def municipalities(self) -> Sequence[Row[tuple[object, ...]]]:
        """Every municipality and unit, by name: what a centre opens for the service."""
        async with self._engine.connect() as conn:
            return (
                await conn.execute(
                    select(organisations)
                    .where(organisations.c.kind.in_(("municipality", "municipality_unit")))
                    .order_by(organisations.c.name)
                )
            ).all()

    async def organisation_by_number(self, org_number: str) -> Organisation | None:
        """The organisation with this number, or None; InvalidOrgNumber for an invalid number."""
        async with self._engine.connect() as conn:
            return await find_by_org_number(conn, org_number)

    async def topics_and_orgs(
        self, meeting_ids: Iterable[str], org_ids: Iterable[int]
    ) -> tuple[dict[str, str], dict[int, str]]:
        """Meetings' topics and organisations' names by id, for pages whose rows keep ids only."""
        wanted_meetings, wanted_orgs = sorted(set(meeting_ids)), sorted(set(org_ids))
        topics: dict[str, str] = {}
        names: dict[int, str] = {}
        async with self._engine.connect() as conn:
            if wanted_meetings:
                rows = await conn.execute(
                    select(meetings.c.id, meetings.c.topic).where(meetings.c.id.in_(wanted_meetings))
                )
                topics = {str(r.id): str(r.topic) for r in rows}
            if wanted_orgs:
                rows = await conn.execute(
                    select(organisations.c.id, organisations.c.name).where(organisations.c.id.in_(wanted_orgs))
                )
                names = {int(r.id): str(r.name) for r in rows}
        return topics, names

    async def audit_reading(self, staff_id: int, *, meeting_id: str | None, limit: int) -> AuditReading | None:
        """The entries a compliance officer may read (their own organisations' only); None for anyone else."""
        async with self._engine.connect() as conn:
            if not await holds_role(conn, staff_id, StaffRole.COMPLIANCE_OFFICER):
                return None
            views = await audit_entries_for(conn, self._audit, staff_id, meeting_id=meeting_id, limit=limit)
            people, units = await _people_and_units(conn, (v.record for v in views))
        return AuditReading(views, people, units)


async def _people_and_units(
    conn: AsyncConnection, records: Iterable[AuditRecord]
) -> tuple[dict[int, Person], dict[int, str]]:
    """The people and organisations the records name, looked up now."""
    staff_ids: set[int] = set()
    org_ids: set[int] = set()
    for record in records:
        if record.actor.kind is ActorKind.STAFF and (m := STAFF_REF.fullmatch(record.actor.ref)):
            staff_ids.add(int(m.group(1)))
        for key in ("target_staff", "staff_id"):
            if isinstance(record.details.get(key), int):
                staff_ids.add(int(record.details[key]))  # type: ignore[arg-type]
        if isinstance(record.details.get("org_id"), int):
            org_ids.add(int(record.details["org_id"]))  # type: ignore[arg-type]
    people: dict[int, Person] = {}
    if staff_ids:
        rows = await conn.execute(select(staff.c.id, staff.c.display_name).where(staff.c.id.in_(sorted(staff_ids))))
        names = {int(r.id): str(r.display_name) for r in rows}
        role_rows = await conn.execute(
            select(staff_roles.c.staff_id, staff_roles.c.role).where(staff_roles.c.staff_id.in_(sorted(staff_ids)))
        )
        roles: dict[int, set[str]] = {}
        for r in role_rows:
            roles.setdefault(int(r.staff_id), set()).add(str(r.role))
        people = {sid: Person(name, tuple(sorted(roles.get(sid, ())))) for sid, name in names.items()}
    units: dict[int, str] = {}
    if org_ids:
        rows = await conn.execute(
            select(organisations.c.id, organisations.c.name).where(organisations.c.id.in_(sorted(org_ids)))
        )
        units = {int(r.id): str(r.name) for r in rows}
    return people, units
