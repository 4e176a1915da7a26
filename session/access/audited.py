"""Changes and refusals that are audited: a change commits with its audit entry, a refusal is kept on its own.

A refused change must leave nothing behind, yet its refusal must be in the audit log. Work therefore runs in
one transaction that also appends the change's audit entry; a refusal raised inside it (``Refusal``) rolls
that transaction back, and then the refusal's audit entry is appended in a transaction of its own before the
user-facing error is raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditRecord
from privacy.records.ledgers import AuditLog
from session.errors import SessionError
from session.subject_refs import staff_ref
from session.tables import organisations

T = TypeVar("T")


class Refusal(Exception):
    """Raised inside audited work: ``error`` is what the caller sees, ``record`` what the audit log keeps."""

    def __init__(self, error: SessionError, record: AuditRecord) -> None:
        super().__init__(str(error))
        self.error = error
        self.record = record


def staff_actor(staff_id: int) -> Actor:
    return Actor(ActorKind.STAFF, staff_ref(staff_id))


def system_actor(part: str) -> Actor:
    return Actor(ActorKind.SYSTEM, part)


async def with_parents(conn: AsyncConnection, org_ids: Iterable[int]) -> tuple[int, ...]:
    """``org_ids`` and their parents: a municipality's compliance officer also reads its units' entries."""
    direct = {o for o in org_ids if o is not None}
    if not direct:
        return ()
    query = select(organisations.c.parent_id).where(organisations.c.id.in_(sorted(direct)))
    parents = (await conn.execute(query)).scalars()
    return tuple(sorted(direct | {p for p in parents if p is not None}))


async def run_audited(engine: AsyncEngine, audit: AuditLog, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction; on ``Refusal`` roll back, audit the refusal alone, raise its error."""
    try:
        async with engine.begin() as conn:
            return await work(conn)
    except Refusal as refusal:
        await audit.append(refusal.record)
        raise refusal.error from None
