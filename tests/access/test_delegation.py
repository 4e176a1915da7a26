"""Delegation: the access manager grants and removes the formidler right inside their municipality only."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import AuditLog
from session.access.delegation import Access
from session.access.errors import AccessRefused, NotFound
from session.access.organisations import org_scope, staff_roles_of
from session.access.staff_roles import StaffRole
from tests.access.fakes import World, snapshot


async def test_access_manager_grants_the_formidler_right_in_a_unit_of_their_municipality(
    engine: AsyncEngine, access: Access, audit: AuditLog, world: World
) -> None:
    assert await access.grant_formidler(
        actor_staff_id=world.manager_a, staff_id=world.newcomer_a, organisation_id=world.unit_a
    )
    assert not await access.grant_formidler(
        actor_staff_id=world.manager_a, staff_id=world.newcomer_a, organisation_id=world.unit_a
    )  # already held: nothing changes
    async with engine.connect() as conn:
        assert await staff_roles_of(conn, world.newcomer_a) == [(StaffRole.FORMIDLER, world.unit_a)]
        assert await org_scope(conn, world.newcomer_a) == {world.unit_a}
    (entry,) = await audit.entries(org_ids=[world.muni_a])
    assert entry.record.action == "access.grant"
    assert entry.record.actor.ref == f"staff-{world.manager_a}"
    assert entry.record.org_ids == tuple(sorted((world.muni_a, world.unit_a)))
    assert entry.record.details == {"role": "formidler", "org_id": world.unit_a, "target_staff": world.newcomer_a}
    assert await audit.entries(org_ids=[world.muni_b]) == []
    assert await access.managed_formidlere(actor_staff_id=world.manager_a) == [
        (world.formidler_a, "Demo formidler-a", world.unit_a),
        (world.newcomer_a, "Demo newcomer-a", world.unit_a),
    ]
    assert await access.managed_formidlere(actor_staff_id=world.formidler_a) == []


@pytest.mark.parametrize(
    ("actor", "target", "org", "reason", "error"),
    [
        ("manager_a", "newcomer_a", "unit_b", "outside_organisation", AccessRefused),
        ("manager_a", "newcomer_a", "muni_b", "outside_organisation", AccessRefused),
        ("manager_a", "formidler_b", "unit_a", "target_outside", AccessRefused),
        ("manager_a", "newcomer_a", "dept", "wrong_kind", AccessRefused),
        ("manager_b", "newcomer_a", "unit_a", "outside_organisation", AccessRefused),
        ("formidler_a", "newcomer_a", "unit_a", "not_access_manager", AccessRefused),
        ("compliance_a", "newcomer_a", "unit_a", "not_access_manager", AccessRefused),
        ("manager_a", "newcomer_a", None, "not_found", NotFound),
    ],
)
async def test_grants_outside_ones_own_organisation_are_refused_audited_and_change_nothing(
    engine: AsyncEngine,
    access: Access,
    audit: AuditLog,
    world: World,
    actor: str,
    target: str,
    org: str | None,
    reason: str,
    error: type[Exception],
) -> None:
    org_id = 9999 if org is None else getattr(world, org)
    async with engine.connect() as conn:
        before = await snapshot(conn)
    with pytest.raises(error) as refused:
        await access.grant_formidler(
            actor_staff_id=getattr(world, actor), staff_id=getattr(world, target), organisation_id=org_id
        )
    if isinstance(refused.value, AccessRefused):
        assert refused.value.reason == reason
        assert str(refused.value)  # a clear Norwegian reason
    async with engine.connect() as conn:
        assert await snapshot(conn) == before
    (entry,) = await audit.entries(org_ids=None)
    assert entry.record.action == "access.refused"
    assert entry.record.details["operation"] == "access.grant"
    assert entry.record.details["reason"] == reason
    assert entry.record.actor.ref == f"staff-{getattr(world, actor)}"


async def test_removal_outside_ones_organisation_is_refused_and_the_right_stays(
    engine: AsyncEngine, access: Access, audit: AuditLog, world: World
) -> None:
    async with engine.connect() as conn:
        before = await snapshot(conn)
    with pytest.raises(AccessRefused) as refused:
        await access.revoke_formidler(
            actor_staff_id=world.manager_a, staff_id=world.formidler_b, organisation_id=world.unit_b
        )
    assert refused.value.reason == "outside_organisation"
    with pytest.raises(AccessRefused):
        await access.revoke_all(actor_staff_id=world.manager_a, staff_id=world.formidler_b)
    async with engine.connect() as conn:
        assert await snapshot(conn) == before
    refusals = await audit.entries(org_ids=[world.muni_b])
    assert [v.record.details["operation"] for v in refusals] == ["access.revoke"]
    assert [v.record.details["operation"] for v in await audit.entries(org_ids=None)] == [
        "access.revoke",
        "access.revoke_all",
    ]


async def test_centre_admin_appoints_access_managers_but_not_for_another_centre(
    engine: AsyncEngine, access: Access, world: World
) -> None:
    assert await access.grant(
        actor_staff_id=world.centre_admin,
        staff_id=world.newcomer_a,
        role=StaffRole.ACCESS_MANAGER,
        organisation_id=world.muni_a,
    )
    with pytest.raises(AccessRefused) as refused:
        await access.grant(
            actor_staff_id=world.manager_a,
            staff_id=world.newcomer_a,
            role=StaffRole.ACCESS_MANAGER,
            organisation_id=world.muni_a,
        )
    assert refused.value.reason == "not_centre_admin"
    with pytest.raises(AccessRefused) as wrong_kind:
        await access.grant(
            actor_staff_id=world.centre_admin,
            staff_id=world.newcomer_a,
            role=StaffRole.ACCESS_MANAGER,
            organisation_id=world.unit_a,
        )
    assert wrong_kind.value.reason == "wrong_kind"
    async with engine.connect() as conn:
        assert (StaffRole.ACCESS_MANAGER, world.muni_a) in await staff_roles_of(conn, world.newcomer_a)
