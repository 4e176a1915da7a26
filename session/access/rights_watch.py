"""Live calls end when the right behind them is gone: the formidler right is asked again while a call is live.

Every ``interval_s`` the watcher takes the staff with live sessions (the revocation bus knows them), and for
each one who acts as formidler asks the ``AuthorizationProvider`` about every unit they act for. A person with
no unit left permitted loses their session generation (the cookie stops working) and their live calls end at
once through the bus, the same path as a removal by an access manager. A provider that cannot answer counts
as a refusal: the routine wants the right checked, not assumed.

The person's identity number is needed to ask Altinn; it is kept in memory only (``PersonIdentifiers``), from
the login that carried it until logout or restart, and never written to the database or the logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.audit_record import AuditRecord, DetailValue
from privacy.records.ledgers import AuditLog
from session.access.audited import system_actor, with_parents
from session.access.authorization import AuthorizationProvider, RightQuery
from session.access.revocation import RevocationBus, bump_session_generation
from session.access.staff_roles import StaffRole
from session.tables import organisations, staff_roles

log = logging.getLogger(__name__)


class PersonIdentifiers:
    """staff id → identity number from the login (ID-porten's ``pid``); memory only."""

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}

    def remember(self, staff_id: int, person_id: str) -> None:
        self._ids[staff_id] = person_id

    def forget(self, staff_id: int) -> None:
        self._ids.pop(staff_id, None)

    def get(self, staff_id: int) -> str:
        return self._ids.get(staff_id, "")

    def __repr__(self) -> str:
        return f"PersonIdentifiers({len(self._ids)} people)"


async def check_live_rights(
    engine: AsyncEngine,
    provider: AuthorizationProvider,
    bus: RevocationBus,
    persons: PersonIdentifiers,
    audit: AuditLog,
    now: datetime,
    *,
    resource: str,
) -> list[int]:
    """Ask once for every live formidler; end the sessions of those with no unit left. Returns their ids."""
    watched = sorted(bus.watched())
    if not watched:
        return []
    query = (
        select(staff_roles.c.staff_id, organisations.c.id, organisations.c.org_number)
        .join(organisations, organisations.c.id == staff_roles.c.organisation_id)
        .where(staff_roles.c.staff_id.in_(watched), staff_roles.c.role == StaffRole.FORMIDLER.value)
    )
    async with engine.connect() as conn:
        units: dict[int, list[tuple[int, str]]] = {}
        for row in (await conn.execute(query)).all():
            units.setdefault(int(row.staff_id), []).append((int(row.id), str(row.org_number)))
    ended: list[int] = []
    for staff_id, held in units.items():
        decisions = [
            await provider.decide(RightQuery(staff_id, persons.get(staff_id), org_id, number, resource=resource))
            for org_id, number in held
        ]
        if any(d.permitted for d in decisions):
            continue
        async with engine.begin() as conn:
            await bump_session_generation(conn, staff_id, now)
            orgs = await with_parents(conn, [org_id for org_id, _ in held])
            details: dict[str, DetailValue] = {"target_staff": staff_id, "resource": resource}
            await audit.append(
                AuditRecord("access.right_lost", system_actor("authorization"), orgs, None, details), conn=conn
            )
        bus.revoke(staff_id)
        persons.forget(staff_id)
        ended.append(staff_id)
    return ended


async def watch_rights(
    engine: AsyncEngine,
    provider: AuthorizationProvider,
    bus: RevocationBus,
    persons: PersonIdentifiers,
    audit: AuditLog,
    clock: Callable[[], datetime],
    *,
    resource: str,
    interval_s: float,
) -> None:
    """Run ``check_live_rights`` every ``interval_s`` until cancelled (a background task of the web app)."""
    while True:
        try:
            await check_live_rights(engine, provider, bus, persons, audit, clock(), resource=resource)
        except Exception:
            log.exception("rights check failed")
        await asyncio.sleep(interval_s)
