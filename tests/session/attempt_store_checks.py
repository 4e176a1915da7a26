"""Checks of the shared attempt limiter that run against any database URL (SQLite here, PostgreSQL in the cluster
tests): two engines stand for two server processes, each with its own connections to one database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from session.attempt_limits import BackoffPolicy
from session.attempt_store import DatabaseAttemptLimiter
from session.cluster_tables import attempt_failures

SECRET = b"test-secret-for-attempts-0123456789"
ADDRESS_KEY = "client:code:198.51.100.7"
"""A caller key that (wrongly) holds an address in clear: the table must still hold only its HMAC."""


def stored_bytes(directory: Path, pattern: str) -> bytes:
    """Every byte of the database files matching ``pattern`` (the database and its WAL), to grep for an address."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob(pattern)))


def pair(
    a: AsyncEngine, b: AsyncEngine, policy: BackoffPolicy | None = None
) -> tuple[DatabaseAttemptLimiter, DatabaseAttemptLimiter]:
    return DatabaseAttemptLimiter(a, SECRET, policy), DatabaseAttemptLimiter(b, SECRET, policy)


async def failures_from_both_processes_count_against_one_key(a: AsyncEngine, b: AsyncEngine) -> None:
    one, two = pair(a, b, BackoffPolicy(free=5, first_delay=2.0))
    for n in range(5):  # five free failures, alternating between the processes
        await (one if n % 2 else two).failed(ADDRESS_KEY, 100.0)
        assert not await one.blocked(ADDRESS_KEY, 100.0) and not await two.blocked(ADDRESS_KEY, 100.0)
    await one.failed(ADDRESS_KEY, 100.0)  # the sixth, wherever it lands, makes the next try wait 2 s
    for limiter in (one, two):
        assert await limiter.blocked(ADDRESS_KEY, 101.9)
        assert not await limiter.blocked(ADDRESS_KEY, 102.0)
        assert not await limiter.blocked("client:code:198.51.100.8", 101.0)  # nobody else waits
    await two.failed(ADDRESS_KEY, 102.0)
    assert await one.blocked(ADDRESS_KEY, 105.9) and not await one.blocked(ADDRESS_KEY, 106.0)
    await two.succeeded(ADDRESS_KEY)
    assert not await one.blocked(ADDRESS_KEY, 102.5)


async def concurrent_failures_all_count(a: AsyncEngine, b: AsyncEngine, n: int = 40) -> None:
    one, two = pair(a, b, BackoffPolicy(free=1000))
    await asyncio.gather(*((one if i % 2 else two).failed("busy", 50.0) for i in range(n)))
    async with a.connect() as conn:
        counted = (await conn.execute(select(attempt_failures.c.failures))).scalar_one()
    assert counted == n, "every failure counts, also when both processes fail at the same moment"


async def the_table_is_swept_and_capped(a: AsyncEngine, b: AsyncEngine) -> None:
    one, two = pair(a, b, BackoffPolicy(free=0, first_delay=10.0, forget_after=1000.0, max_keys=30))
    await one.failed("quiet", 0.0)
    for i in range(50):
        await (one if i % 2 else two).failed(f"stranger-{i}", 600.0 + i)
    assert await one.count() == 51
    assert await two.sweep(1200.0) == 1 + 20  # the quiet key, then the oldest strangers beyond the cap
    assert await one.count() == 30
    assert not await one.blocked("quiet", 1200.0)
    assert await one.blocked("stranger-49", 650.0)  # the newest are kept
    await one.failed("quiet", 1300.0)  # a key forgotten by time (not yet swept) counts from one again
    await one.failed("quiet", 3000.0)
    assert await one.blocked("quiet", 3009.0) and not await one.blocked("quiet", 3010.0)
