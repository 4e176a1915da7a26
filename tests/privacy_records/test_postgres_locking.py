"""The append lock on PostgreSQL, where several server processes share one database.

Runs only when ``SAMHANDLING_TEST_POSTGRES_URL`` names a disposable database (``postgresql+asyncpg://…``); the
tables are created and dropped by the test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from privacy.records.audit_record import Actor, ActorKind, AuditRecord
from privacy.records.errors import ChainTampered
from privacy.records.ledger_store import ChainName, verify_stored
from privacy.records.ledgers import AuditLog
from privacy.records.tables import audit_log, metadata
from tests.privacy_records.fakes import TickingClock

URL = os.environ.get("SAMHANDLING_TEST_POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(not URL.startswith("postgresql"), reason="SAMHANDLING_TEST_POSTGRES_URL not set")


@pytest.fixture
async def engines() -> AsyncIterator[list[AsyncEngine]]:
    # One engine per simulated server process, so the lock is contended across connection pools.
    made = [create_async_engine(URL) for _ in range(3)]
    async with made[0].begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield made
    async with made[0].begin() as conn:
        await conn.run_sync(metadata.drop_all)
    for engine in made:
        await engine.dispose()


def record(i: int) -> AuditRecord:
    return AuditRecord("pause", Actor(ActorKind.ROLE, "bruker"), (1 + i % 2,), "m1", {"n": i})


async def test_appends_from_several_processes_form_one_chain(engines: list[AsyncEngine]) -> None:
    key = Ed25519PrivateKey.generate()
    clock = TickingClock()
    logs = [AuditLog(engine, key, clock) for engine in engines]
    # The head row does not exist yet: the first appends also race to create it.
    await asyncio.gather(*(logs[i % 3].append(record(i)) for i in range(24)))
    async with engines[0].connect() as conn:
        result = await verify_stored(conn, ChainName.AUDIT, key.public_key())
        times = (await conn.execute(select(audit_log.c.created_at).order_by(audit_log.c.seq))).scalars().all()
    assert result.ok and result.checked == 24, result.describe()
    assert times == sorted(times)


async def test_tampered_tail_refuses_on_postgres(engines: list[AsyncEngine]) -> None:
    key = Ed25519PrivateKey.generate()
    log = AuditLog(engines[0], key, TickingClock())
    for i in range(3):
        await log.append(record(i))
    async with engines[0].begin() as conn:
        await conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(signature="00" * 64))
    with pytest.raises(ChainTampered) as caught:
        await AuditLog(engines[1], key, TickingClock()).append(record(9))
    assert caught.value.seq == 2
