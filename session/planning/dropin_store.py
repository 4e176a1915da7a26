"""The drop-in lines in the database, so that every node serves the same line.

A line is one row per (centre, department) holding the queue's snapshot as JSON. ``locked_line`` opens a
transaction, takes the row's write lock first (an UPDATE, as ``privacy.records.ledger_store`` does for chain heads: a
row lock on PostgreSQL, the database's write lock on SQLite), loads the line, lets the caller change it with the pure
``DropInQueue`` operations and writes it back on leaving the block; an exception rolls everything back. Callers on
two nodes therefore queue for the lock and never lose each other's tickets. Keep the block short and do no other
database work inside it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from session.cluster_tables import dropin_queues
from session.departments import Department
from session.planning.dropin_queue import DropInQueue, WaitingCaller
from session.roles import Role

QueueKey = tuple[int, Department]
"""(centre id, department): one line each."""
ON_DUTY_WINDOW = 3600.0
"""A technician who took a caller within this many seconds counts as on duty (for the wait estimate)."""


@dataclass(frozen=True, slots=True)
class LineLimits:
    max_size: int = 25
    heartbeat_timeout: float = 150.0


@dataclass
class DropInLine:
    """One department's line: the queue, the role each waiting caller chose, and who took callers when."""

    queue: DropInQueue
    roles: dict[str, Role] = field(default_factory=dict)
    last_take: dict[int, float] = field(default_factory=dict)

    def waiting(self, now: float) -> list[tuple[WaitingCaller, Role]]:
        """Every waiting caller with their role; the roles of callers who are gone are forgotten here."""
        waiting = self.queue.waiting(now)
        alive = {w.ticket_id for w in waiting}
        for ticket_id in [t for t in self.roles if t not in alive]:
            del self.roles[ticket_id]
        return [(w, self.roles.get(w.ticket_id, Role.BRUKER)) for w in waiting]

    def took(self, staff_id: int, now: float) -> None:
        """A technician took a caller: the time since their previous one feeds the wait estimate, and everyone
        who took a caller within the last hour counts as on duty."""
        previous = self.last_take.get(staff_id)
        if previous is not None and now - previous < ON_DUTY_WINDOW:
            self.queue.record_handling(now - previous)
        self.last_take[staff_id] = now
        for sid in [s for s, at in self.last_take.items() if now - at >= ON_DUTY_WINDOW]:
            del self.last_take[sid]
        self.queue.technicians = max(1, len(self.last_take))

    def dump(self) -> str:
        document: dict[str, Any] = {
            "queue": self.queue.snapshot(),
            "roles": {t: r.value for t, r in self.roles.items()},
            "last_take": {str(s): at for s, at in self.last_take.items()},
        }
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None, limits: LineLimits) -> DropInLine:
        queue = DropInQueue(max_size=limits.max_size, heartbeat_timeout=limits.heartbeat_timeout)
        if not text:
            return cls(queue)
        document = json.loads(text)
        queue.restore(document.get("queue", {}))
        roles = {t: Role(r) for t, r in document.get("roles", {}).items()}
        last_take = {int(s): float(at) for s, at in document.get("last_take", {}).items()}
        return cls(queue, roles, last_take)


async def _lock_row(conn: AsyncConnection, key: QueueKey) -> None:
    centre_id, department = key
    values = {"centre_id": centre_id, "department": department.value, "version": 0, "state": ""}
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(insert(dropin_queues).values(**values).on_conflict_do_nothing())
    table = dropin_queues
    where = (table.c.centre_id == centre_id) & (table.c.department == department.value)
    await conn.execute(update(table).where(where).values(version=table.c.version + 1))


@asynccontextmanager
async def locked_line(engine: AsyncEngine, key: QueueKey, limits: LineLimits) -> AsyncIterator[DropInLine]:
    """The line under its lock for the block; its changes are stored when the block ends without an error."""
    centre_id, department = key
    table = dropin_queues
    where = (table.c.centre_id == centre_id) & (table.c.department == department.value)
    async with engine.begin() as conn:
        await _lock_row(conn, key)
        text = (await conn.execute(select(table.c.state).where(where))).scalar()
        line = DropInLine.load(text, limits)
        yield line
        await conn.execute(update(table).where(where).values(state=line.dump()))
