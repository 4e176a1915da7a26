"""Removing a right returns whose sessions end, bumps their session generation and wakes their live sessions."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import AuditLog
from session.access.delegation import Access
from session.access.organisations import org_scope
from session.access.revocation import RevocationBus, session_generation, session_is_current
from tests.access.fakes import FixedClock, World


async def test_revocation_returns_the_staff_bumps_the_generation_and_wakes_live_sessions(
    engine: AsyncEngine, access: Access, audit: AuditLog, bus: RevocationBus, world: World
) -> None:
    async with engine.connect() as conn:
        assert await session_generation(conn, world.formidler_a) == 0
        assert await session_is_current(conn, world.formidler_a, 0)
    other = bus.subscribe(world.formidler_b)

    async def live_call() -> str:
        with bus.watch(world.formidler_a) as revoked:
            await revoked.wait()
            return "ended"

    call = asyncio.create_task(live_call())
    await asyncio.sleep(0)
    assert bus.subscribers(world.formidler_a) == 1

    revocation = await access.revoke_formidler(
        actor_staff_id=world.manager_a, staff_id=world.formidler_a, organisation_id=world.unit_a
    )
    assert revocation.staff_ids == {world.formidler_a}
    assert revocation.generations == {world.formidler_a: 1}
    assert await asyncio.wait_for(call, timeout=1) == "ended"
    assert not other.is_set()
    assert bus.subscribers(world.formidler_a) == 0
    async with engine.connect() as conn:
        assert await session_generation(conn, world.formidler_a) == 1
        assert not await session_is_current(conn, world.formidler_a, 0)
        assert await session_is_current(conn, world.formidler_a, 1)
        assert await org_scope(conn, world.formidler_a) == frozenset()
    (entry,) = await audit.entries(org_ids=[world.unit_a])
    assert entry.record.action == "access.revoke"

    # Removing what is no longer held changes nothing.
    again = await access.revoke_formidler(
        actor_staff_id=world.manager_a, staff_id=world.formidler_a, organisation_id=world.unit_a
    )
    assert again.staff_ids == frozenset()
    async with engine.connect() as conn:
        assert await session_generation(conn, world.formidler_a) == 1


async def test_someone_who_leaves_loses_every_right_the_manager_controls(
    engine: AsyncEngine, access: Access, world: World
) -> None:
    await access.grant_formidler(
        actor_staff_id=world.manager_a, staff_id=world.formidler_a, organisation_id=world.muni_a
    )
    revocation = await access.revoke_all(actor_staff_id=world.manager_a, staff_id=world.formidler_a)
    assert revocation.staff_ids == {world.formidler_a}
    assert len(revocation.removed) == 2
    async with engine.connect() as conn:
        assert await org_scope(conn, world.formidler_a) == frozenset()
        assert await session_generation(conn, world.formidler_a) == 1


async def test_log_out_everywhere_bumps_the_generation(
    engine: AsyncEngine, access: Access, bus: RevocationBus, world: World
) -> None:
    event = bus.subscribe(world.technician)
    await access.end_sessions(staff_id=world.technician)
    await access.end_sessions(staff_id=world.technician)
    assert event.is_set()
    async with engine.connect() as conn:
        assert await session_generation(conn, world.technician) == 2
        assert await org_scope(conn, world.technician) == {world.centre, world.dept}


def test_the_bus_forgets_unsubscribed_sessions() -> None:
    bus = RevocationBus()
    event = bus.subscribe(7)
    bus.unsubscribe(7, event)
    bus.unsubscribe(7, event)
    assert bus.revoke(7) == 0
    assert not event.is_set()


async def test_a_removal_made_by_another_server_process_is_found_within_a_second(
    engine: AsyncEngine, clock: FixedClock, bus: RevocationBus, world: World
) -> None:
    from session.access.revocation import bump_session_generation, sweep_revocations, watch_revocations

    current = bus.subscribe(world.formidler_a, generation=0)
    stale_elsewhere = bus.subscribe(world.formidler_b, generation=0)
    untracked = bus.subscribe(world.technician)  # no generation given: only local revocation reaches it
    async with engine.connect() as conn:
        assert await sweep_revocations(conn, bus) == []
    watcher = asyncio.create_task(watch_revocations(engine, bus, interval_s=0.05))
    try:
        async with engine.begin() as conn:  # another process removes B's formidler right
            await bump_session_generation(conn, world.formidler_b, clock.now())
        await asyncio.wait_for(stale_elsewhere.wait(), timeout=1)
        assert not current.is_set() and not untracked.is_set()
        assert bus.watched() == {world.formidler_a: 0}
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_a_host_link_stops_working_when_the_hosts_right_is_removed(
    engine: AsyncEngine, access: Access, clock: FixedClock, world: World
) -> None:
    from datetime import timedelta

    from session.access.isolation import staff_link_usable
    from session.meetings import create_meeting
    from session.roles import Role
    from tests.access.invitation_rows import issue_invitation, resolve_invitation

    async with engine.begin() as conn:
        meeting = await create_meeting(
            conn,
            organisation_id=world.unit_a,
            centre_id=None,
            topic="Heis",
            kind="bolig",
            created_by=world.formidler_a,
            now=clock.now(),
        )
        host_token = await issue_invitation(
            conn,
            meeting_id=meeting.id,
            role=Role.FORMIDLER,
            now=clock.now(),
            ttl=timedelta(hours=1),
            host=True,
            staff_id=world.formidler_a,
        )
        citizen_token = await issue_invitation(
            conn, meeting_id=meeting.id, role=Role.BRUKER, now=clock.now(), ttl=timedelta(hours=1)
        )
        host = await resolve_invitation(conn, host_token, clock.now())
        citizen = await resolve_invitation(conn, citizen_token, clock.now())
        assert await staff_link_usable(conn, host, world.formidler_a, 0)
        assert not await staff_link_usable(conn, host, None, None)  # the host link alone is not enough
        assert not await staff_link_usable(conn, host, world.formidler_b, 0)
        assert await staff_link_usable(conn, citizen, None, None)
    await access.revoke_formidler(
        actor_staff_id=world.manager_a, staff_id=world.formidler_a, organisation_id=world.unit_a
    )
    async with engine.connect() as conn:
        assert not await staff_link_usable(conn, host, world.formidler_a, 0)  # old cookie
        assert not await staff_link_usable(conn, host, world.formidler_a, 1)  # new login, but no right any more
        assert await staff_link_usable(conn, citizen, None, None)
