from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from privacy.records import tables as privacy_tables
from privacy.records.ledgers import AuditLog
from session import tables as session_tables
from session.access import tables as access_tables
from session.access.delegation import Access
from session.access.organisations import Organisations
from session.access.revocation import RevocationBus
from tests.access.fakes import FixedClock, World, build_world


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'access.db'}")
    event.listen(engine.sync_engine, "connect", _pragmas)
    async with engine.begin() as conn:
        for metadata in (session_tables.metadata, access_tables.metadata, privacy_tables.metadata):
            await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def audit(engine: AsyncEngine, clock: FixedClock) -> AuditLog:
    return AuditLog(engine, Ed25519PrivateKey.generate(), clock)


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    async with engine.begin() as conn:
        return await build_world(conn)


@pytest.fixture
def bus() -> RevocationBus:
    return RevocationBus()


@pytest.fixture
def access(engine: AsyncEngine, audit: AuditLog, clock: FixedClock, bus: RevocationBus) -> Access:
    return Access(engine, audit, clock, bus)


@pytest.fixture
def orgs(engine: AsyncEngine, audit: AuditLog) -> Organisations:
    return Organisations(engine, audit)
