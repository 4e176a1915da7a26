"""Builders and fakes for the access tests: a small world of organisations and staff, a clock, an SMS gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.records.validators import org_number_control_digit
from session.access.staff_roles import DepartmentKind, OrgKind, StaffRole
from session.access.tables import organisation_departments
from session.tables import organisations, staff, staff_roles


def org_number(base: int) -> str:
    """The first valid organisation number at or after the eight-digit ``base`` (control digit computed)."""
    for candidate in range(base, base + 100):
        first_eight = f"{candidate:08d}"
        digit = org_number_control_digit(first_eight)
        if digit is not None and digit < 10:
            return first_eight + str(digit)
    raise AssertionError("no valid number near base")


def invalid_org_number(base: int) -> str:
    """A nine-digit number whose control digit is wrong."""
    valid = org_number(base)
    return valid[:8] + str((int(valid[8]) + 1) % 10)


class FixedClock:
    """A clock that stands still until told to move (the privacy records' ``Clock`` shape)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


@dataclass
class FakeSmsSender:
    """An SMS gateway that keeps what it was asked to send."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, phone_number: str, text: str) -> None:
        self.sent.append((phone_number, text))


@dataclass(frozen=True)
class World:
    """Two municipalities (A, B) with a unit each, one centre with a department, a supplier, and their staff."""

    muni_a: int
    unit_a: int
    muni_b: int
    unit_b: int
    centre: int
    dept: int
    supplier: int
    manager_a: int
    formidler_a: int
    compliance_a: int
    manager_b: int
    formidler_b: int
    compliance_b: int
    centre_admin: int
    technician: int
    newcomer_a: int
    """Works at unit A but holds no right yet."""


async def _org(conn: AsyncConnection, number: str, name: str, kind: OrgKind, parent: int | None, enabled: bool) -> int:
    result = await conn.execute(
        insert(organisations).values(org_number=number, name=name, kind=kind.value, parent_id=parent, enabled=enabled)
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def _staff(conn: AsyncConnection, subject: str, org: int, roles: list[tuple[StaffRole, int]]) -> int:
    result = await conn.execute(
        insert(staff).values(subject=subject, display_name=f"Demo {subject}", organisation_id=org, active=True)
    )
    assert result.inserted_primary_key is not None
    staff_id = int(result.inserted_primary_key[0])
    for role, at in roles:
        await conn.execute(insert(staff_roles).values(staff_id=staff_id, role=role.value, organisation_id=at))
    return staff_id


async def build_world(conn: AsyncConnection) -> World:
    muni_a = await _org(conn, org_number(91000000), "Kommune A", OrgKind.MUNICIPALITY, None, True)
    unit_a = await _org(conn, org_number(91100000), "Kommune A, ergoterapi", OrgKind.MUNICIPALITY_UNIT, muni_a, True)
    muni_b = await _org(conn, org_number(92000000), "Kommune B", OrgKind.MUNICIPALITY, None, True)
    unit_b = await _org(conn, org_number(92100000), "Kommune B, ergoterapi", OrgKind.MUNICIPALITY_UNIT, muni_b, True)
    centre = await _org(conn, org_number(93000000), "Hjelpemiddelsentral", OrgKind.CENTRE, None, True)
    dept = await _org(conn, org_number(93100000), "Teknisk avdeling", OrgKind.CENTRE_DEPARTMENT, centre, True)
    await conn.execute(insert(organisation_departments).values(organisation_id=dept, department=DepartmentKind.TEKNISK))
    supplier = await _org(conn, org_number(94000000), "Leverandør AS", OrgKind.SUPPLIER, None, True)
    return World(
        muni_a=muni_a,
        unit_a=unit_a,
        muni_b=muni_b,
        unit_b=unit_b,
        centre=centre,
        dept=dept,
        supplier=supplier,
        manager_a=await _staff(conn, "manager-a", muni_a, [(StaffRole.ACCESS_MANAGER, muni_a)]),
        formidler_a=await _staff(conn, "formidler-a", unit_a, [(StaffRole.FORMIDLER, unit_a)]),
        compliance_a=await _staff(conn, "compliance-a", muni_a, [(StaffRole.COMPLIANCE_OFFICER, muni_a)]),
        manager_b=await _staff(conn, "manager-b", muni_b, [(StaffRole.ACCESS_MANAGER, muni_b)]),
        formidler_b=await _staff(conn, "formidler-b", unit_b, [(StaffRole.FORMIDLER, unit_b)]),
        compliance_b=await _staff(conn, "compliance-b", muni_b, [(StaffRole.COMPLIANCE_OFFICER, muni_b)]),
        centre_admin=await _staff(conn, "centre-admin", centre, [(StaffRole.CENTRE_ADMIN, centre)]),
        technician=await _staff(conn, "technician", dept, [(StaffRole.TECHNICIAN, dept)]),
        newcomer_a=await _staff(conn, "newcomer-a", unit_a, []),
    )


async def snapshot(conn: AsyncConnection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables access control changes, to prove a refusal changed nothing."""
    from sqlalchemy import select

    from session.access.tables import access_requests, invitation_devices, staff_session_generations

    tables = (organisations, organisation_departments, staff, staff_roles, access_requests, staff_session_generations)
    out: dict[str, list[tuple[object, ...]]] = {}
    for table in (*tables, invitation_devices):
        rows = (await conn.execute(select(table))).all()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out
