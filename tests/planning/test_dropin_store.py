"""The drop-in line in the database: two server processes (two engines on one database) serve one line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from session import cluster_tables
from session.departments import Department
from session.planning.dropin_queue import TicketState
from session.planning.dropin_store import LineLimits, locked_line
from session.planning.errors import QueueFull
from session.roles import Role
from web.database import create_engine

KEY = (7, Department.TEKNISK)
LIMITS = LineLimits(max_size=40, heartbeat_timeout=150.0)


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"
    a, b = create_engine(url), create_engine(url)
    async with a.begin() as conn:
        await conn.run_sync(cluster_tables.metadata.create_all)
    yield a, b
    await a.dispose()
    await b.dispose()


async def test_a_ticket_taken_on_one_node_is_seen_and_served_on_the_other(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    a, b = engines
    async with locked_line(a, KEY, LIMITS) as line:
        first = line.queue.join(100.0)
        line.roles[first.ticket_id] = Role.PARORENDE
    async with locked_line(b, KEY, LIMITS) as line:
        second = line.queue.join(101.0)
        assert [(w.ticket_id, role) for w, role in line.waiting(102.0)] == [
            (first.ticket_id, Role.PARORENDE),
            (second.ticket_id, Role.BRUKER),
        ]
        taken = line.queue.take_next(103.0)
        assert taken is not None and taken.id == first.ticket_id
        line.queue.hand_over(taken.id, "/j/somewhere")
        line.took(5, 103.0)
    async with locked_line(a, KEY, LIMITS) as line:
        status = line.queue.heartbeat(first.ticket_id, 104.0)
        assert (status.state, status.destination) == (TicketState.CALLED, "/j/somewhere")
        assert line.queue.heartbeat(second.ticket_id, 104.0).position == 1
        assert line.last_take == {5: 103.0}


async def test_concurrent_joins_through_two_engines_lose_no_ticket(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    a, b = engines

    async def join(engine: AsyncEngine, at: float) -> str:
        async with locked_line(engine, KEY, LIMITS) as line:
            await asyncio.sleep(0)  # let the other writer try to get in between
            return line.queue.join(at).ticket_id

    ids = await asyncio.gather(*(join(a if i % 2 else b, 100.0 + i) for i in range(20)))
    async with locked_line(a, KEY, LIMITS) as line:
        assert sorted(w.ticket_id for w in line.queue.waiting(130.0)) == sorted(ids)


async def test_a_refused_change_is_rolled_back(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    a, _ = engines
    small = LineLimits(max_size=1)
    async with locked_line(a, KEY, small) as line:
        line.queue.join(1.0)
    with pytest.raises(QueueFull):
        async with locked_line(a, KEY, small) as line:
            line.roles["x"] = Role.BRUKER
            line.queue.join(2.0)
    async with locked_line(a, KEY, small) as line:
        assert len(line.queue) == 1 and line.roles == {}
