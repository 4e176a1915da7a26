"""This node's heartbeat in the shared database, and finishing what dead nodes left behind.

Every node (every worker process) upserts its row in ``cluster_nodes`` once a second. A node whose row has not
moved for ``DEAD_AFTER`` is dead (SIGKILL, power loss): the first live node to notice marks the recordings it was
writing ``broken`` (they stay playable up to the last whole chunk and deletable with a certificate, exactly as
after a crash and restart of that node) and forgets the row. Its calls need nothing: participants were cut off,
and their next join is hashed by the load balancer to a live node. A failing database only makes the loop log and
retry; readiness (``/internal/isready``) reports it separately.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from recordings.service import RecordingService
from session.cluster_tables import cluster_nodes

log = logging.getLogger(__name__)

BEAT_S = 1.0
DEAD_AFTER = timedelta(seconds=6)
"""Six missed beats: long enough for a garbage-collection pause or a slow database, short enough that a dead
node's recordings are settled well within the ten seconds its participants need to rejoin elsewhere."""


async def beat(engine: AsyncEngine, name: str, *, started_at: datetime, now: datetime, draining: bool) -> None:
    """Record that ``name`` is alive at ``now`` (and whether it is draining)."""
    values = {"name": name, "started_at": started_at, "seen_at": now, "draining": int(draining)}
    async with engine.begin() as conn:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        statement = insert(cluster_nodes).values(**values)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[cluster_nodes.c.name],
                set_={"started_at": started_at, "seen_at": now, "draining": int(draining)},
            )
        )


async def dead_nodes(engine: AsyncEngine, now: datetime, dead_after: timedelta = DEAD_AFTER) -> list[str]:
    async with engine.connect() as conn:
        query = select(cluster_nodes.c.name).where(cluster_nodes.c.seen_at < now - dead_after)
        return list((await conn.execute(query.order_by(cluster_nodes.c.name))).scalars())


async def forget(engine: AsyncEngine, name: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(cluster_nodes).where(cluster_nodes.c.name == name))


async def settle_dead_nodes(
    engine: AsyncEngine, recordings: RecordingService | None, now: datetime, dead_after: timedelta = DEAD_AFTER
) -> list[str]:
    """Mark the recordings of dead nodes ``broken`` and forget those nodes; returns their names."""
    dead = await dead_nodes(engine, now, dead_after)
    for name in dead:
        if recordings is not None:
            recovered = await recordings.recover(node=name)
            log.warning("dead node settled", extra={"recordings_broken": len(recovered)})
        await forget(engine, name)
    return dead


async def run_heartbeat(
    engine: AsyncEngine,
    name: str,
    recordings: RecordingService | None,
    clock: Callable[[], datetime],
    draining: Callable[[], bool],
    *,
    interval_s: float = BEAT_S,
) -> None:
    """Beat and settle dead nodes every ``interval_s`` until cancelled (a background task of the web app)."""
    started_at = clock()
    while True:
        try:
            await beat(engine, name, started_at=started_at, now=clock(), draining=draining())
            await settle_dead_nodes(engine, recordings, clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("cluster heartbeat failed")
        await asyncio.sleep(interval_s)
