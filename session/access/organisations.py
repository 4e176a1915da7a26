"""Organisations: municipalities and their units, hjelpemiddelsentraler and their departments, suppliers.

Each has a validated nine-digit organisation number (Brønnøysund mod-11). In the real service a municipality is
opened by the centre after it sends its organisation numbers; here a centre administrator enables a
municipality or unit, and a unit that is not enabled (or whose municipality is not) cannot create meetings.
``org_scope`` is the set of organisations a staff member may see; every staff-facing query starts from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import Actor, AuditRecord, DetailValue
from privacy.records.errors import InvalidOrgNumber
from privacy.records.ledgers import AuditLog
from privacy.records.validators import parse_org_number
from privacy.user_text import Text, said_by
from session.access.audited import Refusal, run_audited, staff_actor, system_actor, with_parents
from session.access.errors import AccessRefused, InvalidOrganisation, NotFound
from session.access.staff_roles import CENTRE_ROLES, DepartmentKind, OrgKind, StaffRole, parse_staff_role
from session.access.tables import organisation_departments
from session.errors import MeetingInvalid, SessionError
from session.meetings import clean_text
from session.tables import organisations, staff, staff_roles

PARENT_KIND: dict[OrgKind, OrgKind | None] = {
    OrgKind.MUNICIPALITY: None,
    OrgKind.MUNICIPALITY_UNIT: OrgKind.MUNICIPALITY,
    OrgKind.CENTRE: None,
    OrgKind.CENTRE_DEPARTMENT: OrgKind.CENTRE,
    OrgKind.SUPPLIER: None,
}
"""The kind of parent each kind must have (None: no parent)."""

ENABLEABLE = frozenset({OrgKind.MUNICIPALITY, OrgKind.MUNICIPALITY_UNIT})


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    org_number: str
    name: str
    kind: OrgKind
    parent_id: int | None
    enabled: bool
    department: DepartmentKind | None = None


async def get_organisation(conn: AsyncConnection, org_id: int) -> Organisation | None:
    query = (
        select(organisations, organisation_departments.c.department)
        .outerjoin(organisation_departments, organisation_departments.c.organisation_id == organisations.c.id)
        .where(organisations.c.id == org_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    department = DepartmentKind(row.department) if row.department else None
    return Organisation(
        row.id, row.org_number, row.name, OrgKind(row.kind), row.parent_id, bool(row.enabled), department
    )


async def find_by_org_number(conn: AsyncConnection, org_number: str) -> Organisation | None:
    """The organisation with this number (spaces allowed), or None; InvalidOrgNumber for an invalid number."""
    number = parse_org_number(org_number)
    found = (await conn.execute(select(organisations.c.id).where(organisations.c.org_number == number))).first()
    return None if found is None else await get_organisation(conn, found.id)


async def org_path(conn: AsyncConnection, org_id: int) -> tuple[Organisation, ...]:
    """The organisation and its ancestors, nearest first (a unit, then its municipality)."""
    path: list[Organisation] = []
    current: int | None = org_id
    while current is not None and len(path) < 4:  # the tree is two levels deep; the bound stops a bad cycle
        org = await get_organisation(conn, current)
        if org is None:
            break
        path.append(org)
        current = org.parent_id
    return tuple(path)


async def children(conn: AsyncConnection, org_id: int) -> tuple[Organisation, ...]:
    rows = (await conn.execute(select(organisations.c.id).where(organisations.c.parent_id == org_id))).scalars()
    found = [await get_organisation(conn, child) for child in rows]
    return tuple(sorted((o for o in found if o is not None), key=lambda o: o.id))


async def subtree_ids(conn: AsyncConnection, org_id: int) -> frozenset[int]:
    """The organisation and every organisation below it (a municipality and its units)."""
    found = {org_id}
    frontier = [org_id]
    while frontier:
        query = select(organisations.c.id).where(organisations.c.parent_id.in_(frontier))
        frontier = [o for o in (await conn.execute(query)).scalars() if o not in found]
        found.update(frontier)
    return frozenset(found)


async def can_create_meetings(conn: AsyncConnection, org_id: int) -> bool:
    """Whether staff may create meetings for this organisation: it and every organisation above it are enabled.

    Suppliers take part in meetings but never create them.
    """
    path = await org_path(conn, org_id)
    if not path or path[0].kind is OrgKind.SUPPLIER:
        return False
    return all(org.enabled for org in path)


async def staff_roles_of(conn: AsyncConnection, staff_id: int) -> list[tuple[StaffRole, int]]:
    """The (role, organisation) pairs an active staff member holds; unknown role names are ignored."""
    query = (
        select(staff_roles.c.role, staff_roles.c.organisation_id)
        .join(staff, staff.c.id == staff_roles.c.staff_id)
        .where(staff_roles.c.staff_id == staff_id, staff.c.active.is_(True))
    )
    pairs: list[tuple[StaffRole, int]] = []
    for row in (await conn.execute(query)).all():
        role = parse_staff_role(row.role)
        if role is not None:
            pairs.append((role, row.organisation_id))
    return pairs


async def _role_scope(conn: AsyncConnection, role: StaffRole, org_id: int) -> frozenset[int]:
    org = await get_organisation(conn, org_id)
    if org is None:
        return frozenset()
    if role in CENTRE_ROLES and org.kind is OrgKind.CENTRE_DEPARTMENT and org.parent_id is not None:
        return await subtree_ids(conn, org.parent_id)  # centre staff work across the centre's departments
    return await subtree_ids(conn, org_id)


async def org_scope(conn: AsyncConnection, staff_id: int) -> frozenset[int]:
    """Every organisation a staff member may see: for each role they hold, its organisation and the units below
    it; for centre roles held at a department, the whole centre. Inactive staff and staff without roles see
    nothing (a removed right removes the view with it)."""
    scope: set[int] = set()
    for role, org_id in await staff_roles_of(conn, staff_id):
        scope |= await _role_scope(conn, role, org_id)
    return frozenset(scope)


async def audit_scope(conn: AsyncConnection, staff_id: int) -> frozenset[int]:
    """The organisations whose audit trail a staff member may read: where they are compliance officer (and the
    units below)."""
    scope: set[int] = set()
    for role, org_id in await staff_roles_of(conn, staff_id):
        if role is StaffRole.COMPLIANCE_OFFICER:
            scope |= await subtree_ids(conn, org_id)
    return frozenset(scope)


async def holds_role(
    conn: AsyncConnection, staff_id: int, role: StaffRole, org_ids: frozenset[int] | None = None
) -> bool:
    """Whether the active staff member holds ``role`` (at one of ``org_ids`` when given)."""
    return any(r is role and (org_ids is None or o in org_ids) for r, o in await staff_roles_of(conn, staff_id))


async def _centre_of_staff(conn: AsyncConnection, staff_id: int) -> int | None:
    row = (await conn.execute(select(staff.c.organisation_id).where(staff.c.id == staff_id))).first()
    if row is None:
        return None
    path = await org_path(conn, int(row.organisation_id))
    return next((o.id for o in reversed(path) if o.kind is OrgKind.CENTRE), None)


def _record(action: str, actor: Actor, org_ids: tuple[int, ...], **details: DetailValue) -> AuditRecord:
    return AuditRecord(action, actor, org_ids, None, details)


class Organisations:
    """Creating organisations and enabling municipalities/units, each change and refusal audited."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog) -> None:
        self._engine = engine
        self._audit = audit

    async def create(
        self,
        *,
        actor_staff_id: int | None,
        org_number: str,
        name: str,
        kind: OrgKind,
        parent_id: int | None = None,
        department: DepartmentKind | None = None,
        enabled: bool = False,
        serving_centre_id: int | None = None,
    ) -> Organisation:
        """Register an organisation. ``actor_staff_id`` must be a centre administrator; None means the operator
        (command line, seeding). Invalid numbers, duplicates and a wrong parent are refused and audited."""
        actor = system_actor("operator") if actor_staff_id is None else staff_actor(actor_staff_id)

        def refuse(error: SessionError, reason: str) -> Refusal:
            return Refusal(error, _record("access.refused", actor, (), operation="organisation.create", reason=reason))

        async def work(conn: AsyncConnection) -> Organisation:
            if actor_staff_id is not None and not await holds_role(conn, actor_staff_id, StaffRole.CENTRE_ADMIN):
                raise refuse(
                    AccessRefused(
                        Text("err.org.not_centre_admin"),
                        reason="not_centre_admin",
                    ),
                    "not_centre_admin",
                )
            try:
                number = parse_org_number(org_number)
            except InvalidOrgNumber as exc:
                raise refuse(
                    InvalidOrganisation(said_by(exc), reason="invalid_org_number"), "invalid_org_number"
                ) from None
            try:
                clean_name = clean_text(name, field=Text("field.name"), max_len=200)
            except MeetingInvalid as exc:
                raise refuse(InvalidOrganisation(said_by(exc), reason="invalid_name"), "invalid_name") from None
            taken = (await conn.execute(select(organisations.c.id).where(organisations.c.org_number == number))).first()
            if taken is not None:
                raise refuse(
                    InvalidOrganisation(Text("err.org.duplicate"), reason="duplicate"),
                    "duplicate",
                )
            await self._check_parent(conn, kind, parent_id, department, refuse)
            serving = serving_centre_id
            if kind is OrgKind.MUNICIPALITY and serving is None and actor_staff_id is not None:
                serving = await _centre_of_staff(conn, actor_staff_id)  # the registering centre serves it
            result = await conn.execute(
                insert(organisations).values(
                    org_number=number,
                    name=clean_name,
                    kind=kind.value,
                    parent_id=parent_id,
                    enabled=enabled,
                    serving_centre_id=serving if kind is OrgKind.MUNICIPALITY else None,
                )
            )
            org_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            if department is not None:
                await conn.execute(
                    insert(organisation_departments).values(organisation_id=org_id, department=department.value)
                )
            orgs = await with_parents(conn, [org_id])
            await self._audit.append(
                _record("organisation.create", actor, orgs, org_id=org_id, kind=kind.value, enabled=enabled), conn=conn
            )
            return Organisation(org_id, number, clean_name, kind, parent_id, enabled, department)

        return await run_audited(self._engine, self._audit, work)

    @staticmethod
    async def _check_parent(
        conn: AsyncConnection,
        kind: OrgKind,
        parent_id: int | None,
        department: DepartmentKind | None,
        refuse: Callable[[SessionError, str], Refusal],
    ) -> None:
        wanted = PARENT_KIND[kind]
        if (department is not None) != (kind is OrgKind.CENTRE_DEPARTMENT):
            raise refuse(
                InvalidOrganisation(
                    Text("err.org.department"),
                    reason="department",
                ),
                "department",
            )
        if wanted is None:
            if parent_id is not None:
                raise refuse(
                    InvalidOrganisation(Text("err.org.no_parent"), reason="parent"),
                    "parent",
                )
            return
        parent = None if parent_id is None else await get_organisation(conn, parent_id)
        if parent is None or parent.kind is not wanted:
            message = (
                Text("err.org.unit_parent") if kind is OrgKind.MUNICIPALITY_UNIT else Text("err.org.department_parent")
            )
            raise refuse(InvalidOrganisation(message, reason="parent"), "parent")

    async def set_enabled(self, *, actor_staff_id: int, org_id: int, enabled: bool) -> Organisation:
        """A centre administrator opens (or closes) a municipality or a municipal unit for the service."""
        actor = staff_actor(actor_staff_id)

        async def work(conn: AsyncConnection) -> Organisation:
            org = await get_organisation(conn, org_id)
            operation = "organisation.enable" if enabled else "organisation.disable"
            if org is None:
                raise Refusal(NotFound(), _record("access.refused", actor, (), operation=operation, reason="not_found"))
            orgs = await with_parents(conn, [org.id])
            if not await holds_role(conn, actor_staff_id, StaffRole.CENTRE_ADMIN):
                raise Refusal(
                    AccessRefused(
                        Text("err.org.enable_not_centre_admin"),
                        reason="not_centre_admin",
                    ),
                    _record(
                        "access.refused", actor, orgs, operation=operation, org_id=org.id, reason="not_centre_admin"
                    ),
                )
            if org.kind not in ENABLEABLE:
                raise Refusal(
                    InvalidOrganisation(Text("err.org.enable_kind"), reason="kind"),
                    _record("access.refused", actor, orgs, operation=operation, org_id=org.id, reason="kind"),
                )
            if org.enabled == enabled:
                return org
            await conn.execute(update(organisations).where(organisations.c.id == org.id).values(enabled=enabled))
            await self._audit.append(_record(operation, actor, orgs, org_id=org.id), conn=conn)
            return Organisation(org.id, org.org_number, org.name, org.kind, org.parent_id, enabled, org.department)

        return await run_audited(self._engine, self._audit, work)
