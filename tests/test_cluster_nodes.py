"""Node heartbeats in the shared database: a node that stops beating is found dead and forgotten once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from session import cluster_tables
from web.cluster import DEAD_AFTER, beat, dead_nodes, settle_dead_nodes
from web.database import create_engine

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_the_node_that_stops_beating_is_settled_once(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'n.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(cluster_tables.metadata.create_all)
        for name in ("a", "b"):
            await beat(engine, name, started_at=T0, now=T0, draining=False)
        later = T0 + DEAD_AFTER + timedelta(seconds=1)
        await beat(engine, "a", started_at=T0, now=later, draining=True)  # b has gone quiet
        assert await dead_nodes(engine, later) == ["b"]
        assert await settle_dead_nodes(engine, None, later) == ["b"]
        assert await settle_dead_nodes(engine, None, later) == []
        assert await dead_nodes(engine, later + DEAD_AFTER * 2) == ["a"]
    finally:
        await engine.dispose()
