"""Ending staff sessions: per-staff session generations in the database and the in-process revocation bus.

A staff cookie carries the session generation it was issued at; bumping the generation makes every existing
cookie of that person invalid on its next request. Live WebSockets are not requests, so they subscribe to the
``RevocationBus``: a removal in this process wakes them at once, and ``watch_revocations`` finds removals made
by other server processes through the database within half a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from session.access.staff_roles import StaffRole
from session.access.tables import staff_session_generations
from session.tables import staff

log = logging.getLogger(__name__)


async def session_generation(conn: AsyncConnection, staff_id: int) -> int:
    """The generation staff cookies must carry to be valid (0 until the first revocation)."""
    query = select(staff_session_generations.c.generation).where(staff_session_generations.c.staff_id == staff_id)
    value = (await conn.execute(query)).scalar()
    return int(value) if value is not None else 0


async def bump_session_generation(conn: AsyncConnection, staff_id: int, now: datetime) -> int:
    """End every existing session of this staff member (their cookies name an older generation)."""
    current = await session_generation(conn, staff_id)
    table = staff_session_generations
    changed = await conn.execute(
        update(table).where(table.c.staff_id == staff_id).values(generation=current + 1, changed_at=now)
    )
    if changed.rowcount == 0:
        await conn.execute(insert(table).values(staff_id=staff_id, generation=current + 1, changed_at=now))
    return current + 1


async def session_is_current(conn: AsyncConnection, staff_id: int, generation: int) -> bool:
    """Whether a cookie for ``staff_id`` issued at ``generation`` is still good: active staff, same generation."""
    active = (await conn.execute(select(staff.c.active).where(staff.c.id == staff_id))).scalar()
    return bool(active) and await session_generation(conn, staff_id) == generation


class RevocationBus:
    """Wakes the live sessions (WebSockets) of staff whose rights were removed.

    A WebSocket handler subscribes with the staff id it serves (and the session generation its cookie carried)
    and ends the connection when its event is set. A removal in this process sets the events at once; a
    removal made by another server process is found by ``watch_revocations``, which compares the generations
    of the watched staff with the database twice a second.
    """

    def __init__(self) -> None:
        self._events: dict[int, set[asyncio.Event]] = {}
        self._generations: dict[int, int] = {}

    def subscribe(self, staff_id: int, generation: int | None = None) -> asyncio.Event:
        event = asyncio.Event()
        self._events.setdefault(staff_id, set()).add(event)
        if generation is not None:
            self._generations[staff_id] = min(generation, self._generations.get(staff_id, generation))
        return event

    def unsubscribe(self, staff_id: int, event: asyncio.Event) -> None:
        events = self._events.get(staff_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._events[staff_id]
                self._generations.pop(staff_id, None)

    @contextmanager
    def watch(self, staff_id: int, generation: int | None = None) -> Iterator[asyncio.Event]:
        event = self.subscribe(staff_id, generation)
        try:
            yield event
        finally:
            self.unsubscribe(staff_id, event)

    def revoke(self, staff_id: int) -> int:
        """Set every subscribed event of this staff member; returns how many live sessions were told."""
        events = self._events.pop(staff_id, set())
        self._generations.pop(staff_id, None)
        for event in events:
            event.set()
        return len(events)

    def subscribers(self, staff_id: int) -> int:
        return len(self._events.get(staff_id, ()))

    def watched(self) -> dict[int, int]:
        """Staff with live sessions and the oldest session generation among them."""
        return dict(self._generations)


async def sweep_revocations(conn: AsyncConnection, bus: RevocationBus) -> list[int]:
    """End the live sessions of watched staff whose generation moved on or who are no longer active."""
    watched = bus.watched()
    if not watched:
        return []
    table = staff_session_generations
    query = (
        select(staff.c.id, staff.c.active, table.c.generation)
        .outerjoin(table, table.c.staff_id == staff.c.id)
        .where(staff.c.id.in_(sorted(watched)))
    )
    current = {row.id: (bool(row.active), int(row.generation or 0)) for row in (await conn.execute(query)).all()}
    revoked = [sid for sid, gen in watched.items() if current.get(sid) != (True, gen)]
    for staff_id in revoked:
        bus.revoke(staff_id)
    return revoked


async def watch_revocations(engine: AsyncEngine, bus: RevocationBus, *, interval_s: float = 0.5) -> None:
    """Run ``sweep_revocations`` every ``interval_s`` until cancelled (a background task of the web app).

    A database that is briefly away (a restart, a fail-over) skips sweeps; the loop carries on and catches up."""
    while True:
        try:
            async with engine.connect() as conn:
                await sweep_revocations(conn, bus)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("revocation sweep failed")
        await asyncio.sleep(interval_s)


@dataclass(frozen=True, slots=True)
class Revocation:
    """Whose sessions must end: their cookies are already invalid; the web layer ends their live meetings."""

    staff_ids: frozenset[int] = frozenset()
    generations: Mapping[int, int] = field(default_factory=dict)
    removed: tuple[tuple[StaffRole, int], ...] = ()
    """The (role, organisation) pairs that were removed."""
