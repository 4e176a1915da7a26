"""Access requests: a formidler asks from the service, the access manager of that municipality answers."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import AuditLog
from session.access.delegation import Access
from session.access.errors import InvalidRequest, NotFound
from session.access.organisations import Organisations, staff_roles_of
from session.access.staff_roles import OrgKind, StaffRole
from session.tables import staff
from tests.access.fakes import World, org_number, snapshot
from tests.said import nb


async def test_a_new_person_asks_and_the_access_manager_approves(
    engine: AsyncEngine, access: Access, audit: AuditLog, world: World
) -> None:
    request = await access.request_access(
        subject="idp-sub-new", display_name="  Nina Ny  ", organisation_id=world.unit_a
    )
    assert request.status == "pending" and request.display_name == "Nina Ny" and request.staff_id is None
    again = await access.request_access(subject="idp-sub-new", display_name="Nina Ny", organisation_id=world.unit_a)
    assert again.id == request.id  # asking twice does not pile up requests
    assert [r.id for r in await access.pending_requests(actor_staff_id=world.manager_a)] == [request.id]
    assert await access.pending_requests(actor_staff_id=world.manager_b) == []
    assert await access.pending_requests(actor_staff_id=world.formidler_a) == []

    answered = await access.answer_request(actor_staff_id=world.manager_a, request_id=request.id, approve=True)
    assert answered.status == "approved" and answered.answered_by == world.manager_a and answered.staff_id is not None
    async with engine.connect() as conn:
        row = (await conn.execute(select(staff).where(staff.c.id == answered.staff_id))).one()
        assert row.subject == "idp-sub-new" and row.organisation_id == world.unit_a and row.active
        assert await staff_roles_of(conn, answered.staff_id) == [(StaffRole.FORMIDLER, world.unit_a)]
    assert await access.pending_requests(actor_staff_id=world.manager_a) == []
    assert [r.status for r in await access.requests_for_subject("idp-sub-new")] == ["approved"]

    actions = [(v.record.action, v.record.actor.kind.value) for v in await audit.entries(org_ids=[world.unit_a])]
    assert actions == [("access.request", "role"), ("access.grant", "staff"), ("access.request_answered", "staff")]
    assert await audit.entries(org_ids=[world.muni_b]) == []
    # The display name is in the request table, never in the audit log.
    assert "Nina" not in str([v.record.to_payload() for v in await audit.entries(org_ids=None)])

    with pytest.raises(InvalidRequest):
        await access.answer_request(actor_staff_id=world.manager_a, request_id=request.id, approve=False)
    with pytest.raises(InvalidRequest) as already:
        await access.request_access(subject="idp-sub-new", display_name="Nina Ny", organisation_id=world.unit_a)
    assert "allerede" in nb(already.value)


async def test_a_denied_request_grants_nothing(engine: AsyncEngine, access: Access, world: World) -> None:
    request = await access.request_access(subject="formidler-a-other", display_name="Ola", organisation_id=world.muni_a)
    denied = await access.answer_request(actor_staff_id=world.manager_a, request_id=request.id, approve=False)
    assert denied.status == "denied" and denied.staff_id is None
    async with engine.connect() as conn:
        assert (await conn.execute(select(staff.c.id).where(staff.c.subject == "formidler-a-other"))).first() is None


async def test_another_municipalitys_request_is_not_found_for_the_access_manager_and_audited(
    engine: AsyncEngine, access: Access, audit: AuditLog, world: World
) -> None:
    request = await access.request_access(subject="idp-sub-b", display_name="Berit", organisation_id=world.unit_b)
    async with engine.connect() as conn:
        before = await snapshot(conn)
    for actor in (world.manager_a, world.formidler_b):
        with pytest.raises(NotFound):
            await access.answer_request(actor_staff_id=actor, request_id=request.id, approve=True)
    with pytest.raises(NotFound):
        await access.answer_request(actor_staff_id=world.manager_a, request_id=4242, approve=True)
    async with engine.connect() as conn:
        assert await snapshot(conn) == before
    reasons = [v.record.details.get("reason") for v in await audit.entries(org_ids=None)][1:]
    assert reasons == ["outside_organisation", "not_access_manager", "outside_organisation"]


async def test_an_existing_staff_member_asks_for_a_second_unit(
    engine: AsyncEngine, access: Access, orgs: Organisations, world: World
) -> None:
    second = await orgs.create(
        actor_staff_id=world.centre_admin,
        org_number=org_number(91300000),
        name="Kommune A, rehabilitering",
        kind=OrgKind.MUNICIPALITY_UNIT,
        parent_id=world.muni_a,
        enabled=True,
    )
    request = await access.request_access(subject="formidler-a", display_name="Demo", organisation_id=second.id)
    assert request.staff_id == world.formidler_a
    await access.answer_request(actor_staff_id=world.manager_a, request_id=request.id, approve=True)
    async with engine.connect() as conn:
        assert set(await staff_roles_of(conn, world.formidler_a)) == {
            (StaffRole.FORMIDLER, world.unit_a),
            (StaffRole.FORMIDLER, second.id),
        }


@pytest.mark.parametrize(
    ("org", "name", "message"),
    [
        ("dept", "Ola", "kommune"),
        ("supplier", "Ola", "kommune"),
        ("unit_a", "", "fylles ut"),
        ("unit_a", "Ola\u0007", "kontrolltegn"),
    ],
)
async def test_bad_requests_are_refused(access: Access, world: World, org: str, name: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await access.request_access(subject="idp-sub-x", display_name=name, organisation_id=getattr(world, org))
    assert message in nb(refused.value)


async def test_a_unit_not_yet_enabled_cannot_be_asked_for(
    access: Access, orgs: Organisations, world: World, audit: AuditLog
) -> None:
    closed = await orgs.create(
        actor_staff_id=world.centre_admin,
        org_number=org_number(91400000),
        name="Kommune A, lukket enhet",
        kind=OrgKind.MUNICIPALITY_UNIT,
        parent_id=world.muni_a,
    )
    with pytest.raises(InvalidRequest) as refused:
        await access.request_access(subject="idp-sub-x", display_name="Ola", organisation_id=closed.id)
    assert "ikke åpnet" in nb(refused.value)
    last = (await audit.entries(org_ids=[closed.id]))[-1]
    assert last.record.action == "access.refused" and last.record.details["reason"] == "not_enabled"
