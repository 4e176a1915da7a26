"""Organisations: validated numbers, the tree, enabling by a centre administrator, and who sees what."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.errors import InvalidOrgNumber
from privacy.records.ledgers import AuditLog
from session.access.errors import AccessRefused, InvalidOrganisation, NotFound
from session.access.organisations import (
    Organisations,
    audit_scope,
    can_create_meetings,
    children,
    find_by_org_number,
    get_organisation,
    org_path,
    org_scope,
)
from session.access.staff_roles import DepartmentKind, OrgKind
from tests.access.fakes import World, invalid_org_number, org_number, snapshot
from tests.said import nb


async def test_centre_admin_creates_a_municipality_and_a_unit_with_valid_numbers(
    engine: AsyncEngine, audit: AuditLog, orgs: Organisations, world: World
) -> None:
    number = org_number(95000000)
    muni = await orgs.create(
        actor_staff_id=world.centre_admin,
        org_number=f"{number[:3]} {number[3:6]} {number[6:]}",
        name="Ny kommune",
        kind=OrgKind.MUNICIPALITY,
    )
    assert muni.org_number == number and not muni.enabled
    unit = await orgs.create(
        actor_staff_id=world.centre_admin,
        org_number=org_number(95100000),
        name="Ny kommune, hjemmetjenesten",
        kind=OrgKind.MUNICIPALITY_UNIT,
        parent_id=muni.id,
    )
    dept = await orgs.create(
        actor_staff_id=None,
        org_number=org_number(95200000),
        name="Avdeling kommunikasjon",
        kind=OrgKind.CENTRE_DEPARTMENT,
        parent_id=world.centre,
        department=DepartmentKind.KOMMUNIKASJON,
    )
    async with engine.connect() as conn:
        assert [o.id for o in await org_path(conn, unit.id)] == [unit.id, muni.id]
        assert [o.id for o in await children(conn, muni.id)] == [unit.id]
        assert (await get_organisation(conn, dept.id)) == dept
        found = await find_by_org_number(conn, number)
        assert found is not None and found.id == muni.id
    created = [v for v in await audit.entries(org_ids=None) if v.record.action == "organisation.create"]
    assert len(created) == 3
    assert created[1].record.org_ids == tuple(sorted((muni.id, unit.id)))


@pytest.mark.parametrize(
    "number", [invalid_org_number(95000000), "12345678", "1234567890", "9910000a3", "", "991 000 00 4"]
)
async def test_invalid_org_numbers_are_refused_audited_and_nothing_is_saved(
    engine: AsyncEngine, audit: AuditLog, orgs: Organisations, world: World, number: str
) -> None:
    async with engine.connect() as conn:
        before = await snapshot(conn)
    with pytest.raises(InvalidOrganisation) as refused:
        await orgs.create(actor_staff_id=world.centre_admin, org_number=number, name="X", kind=OrgKind.SUPPLIER)
    assert refused.value.reason == "invalid_org_number"
    assert "kontrollsifferet" in nb(refused.value)
    async with engine.connect() as conn:
        assert await snapshot(conn) == before
    (entry,) = await audit.entries(org_ids=None)
    assert entry.record.action == "access.refused"
    assert entry.record.details["reason"] == "invalid_org_number"
    assert not number or number not in str(entry.record.to_payload())


async def test_remainder_one_bases_are_never_valid(engine: AsyncEngine) -> None:
    from privacy.records.validators import is_valid_org_number, org_number_control_digit

    base = next(f"{n:08d}" for n in range(10000000, 10001000) if org_number_control_digit(f"{n:08d}") is None)
    assert not any(is_valid_org_number(base + str(d)) for d in range(10))
    async with engine.connect() as conn:
        with pytest.raises(InvalidOrgNumber):
            await find_by_org_number(conn, base + "0")


@pytest.mark.parametrize(
    ("kind", "parent", "department", "reason"),
    [
        (OrgKind.MUNICIPALITY_UNIT, None, None, "parent"),
        (OrgKind.MUNICIPALITY_UNIT, "centre", None, "parent"),
        (OrgKind.CENTRE_DEPARTMENT, "centre", None, "department"),
        (OrgKind.MUNICIPALITY, "muni_a", None, "parent"),
        (OrgKind.SUPPLIER, None, DepartmentKind.BOLIG, "department"),
    ],
)
async def test_a_wrong_place_in_the_tree_is_refused(
    orgs: Organisations, world: World, kind: OrgKind, parent: str | None, department: DepartmentKind | None, reason: str
) -> None:
    parent_id = None if parent is None else getattr(world, parent)
    with pytest.raises(InvalidOrganisation) as refused:
        await orgs.create(
            actor_staff_id=world.centre_admin,
            org_number=org_number(96000000),
            name="X",
            kind=kind,
            parent_id=parent_id,
            department=department,
        )
    assert refused.value.reason == reason


async def test_duplicates_and_non_admins_are_refused(orgs: Organisations, world: World, audit: AuditLog) -> None:
    with pytest.raises(InvalidOrganisation) as duplicate:
        await orgs.create(
            actor_staff_id=world.centre_admin, org_number=org_number(91000000), name="X", kind=OrgKind.SUPPLIER
        )
    assert duplicate.value.reason == "duplicate"
    with pytest.raises(AccessRefused):
        await orgs.create(
            actor_staff_id=world.manager_a, org_number=org_number(96000000), name="X", kind=OrgKind.SUPPLIER
        )
    reasons = [v.record.details["reason"] for v in await audit.entries(org_ids=None)]
    assert reasons == ["duplicate", "not_centre_admin"]


async def test_a_unit_not_enabled_cannot_create_meetings_until_the_centre_enables_it(
    engine: AsyncEngine, orgs: Organisations, world: World, audit: AuditLog
) -> None:
    unit = await orgs.create(
        actor_staff_id=world.centre_admin,
        org_number=org_number(91200000),
        name="Kommune A, hjemmesykepleien",
        kind=OrgKind.MUNICIPALITY_UNIT,
        parent_id=world.muni_a,
    )
    async with engine.connect() as conn:
        assert not await can_create_meetings(conn, unit.id)
        assert await can_create_meetings(conn, world.unit_a)
        assert not await can_create_meetings(conn, world.supplier)
        assert not await can_create_meetings(conn, 9999)

    with pytest.raises(AccessRefused):
        await orgs.set_enabled(actor_staff_id=world.manager_a, org_id=unit.id, enabled=True)
    with pytest.raises(InvalidOrganisation):
        await orgs.set_enabled(actor_staff_id=world.centre_admin, org_id=world.supplier, enabled=False)
    with pytest.raises(NotFound):
        await orgs.set_enabled(actor_staff_id=world.centre_admin, org_id=9999, enabled=True)
    async with engine.connect() as conn:
        assert not await can_create_meetings(conn, unit.id)

    enabled = await orgs.set_enabled(actor_staff_id=world.centre_admin, org_id=unit.id, enabled=True)
    assert enabled.enabled
    async with engine.connect() as conn:
        assert await can_create_meetings(conn, unit.id)

    # Closing the municipality closes its units too.
    await orgs.set_enabled(actor_staff_id=world.centre_admin, org_id=world.muni_a, enabled=False)
    async with engine.connect() as conn:
        assert not await can_create_meetings(conn, unit.id)
        assert not await can_create_meetings(conn, world.unit_a)
    actions = [v.record.action for v in await audit.entries(org_ids=[world.muni_a])]
    assert actions == ["organisation.create", "access.refused", "organisation.enable", "organisation.disable"]


async def test_org_scope_follows_roles(engine: AsyncEngine, world: World) -> None:
    async with engine.connect() as conn:
        assert await org_scope(conn, world.manager_a) == {world.muni_a, world.unit_a}
        assert await org_scope(conn, world.formidler_a) == {world.unit_a}
        assert await org_scope(conn, world.technician) == {world.centre, world.dept}
        assert await org_scope(conn, world.centre_admin) == {world.centre, world.dept}
        assert await org_scope(conn, world.newcomer_a) == frozenset()
        assert await org_scope(conn, 9999) == frozenset()
        assert await audit_scope(conn, world.compliance_a) == {world.muni_a, world.unit_a}
        assert await audit_scope(conn, world.manager_a) == frozenset()
