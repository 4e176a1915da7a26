"""Checks of the shared attempt limiter that run against any database URL (SQLite here, PostgreSQL in the cluster
tests): two engines stand for two server processes, each with its own connections to one database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from session.access.attempt_limits import BackoffPolicy
from session.access.attempt_store import DatabaseAttemptLimiter
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
    for n in range(5):  # five free tries, alternating between the processes
        assert await (one if n % 2 else two).attempt(ADDRESS_KEY, 100.0)
        assert not await one.blocked(ADDRESS_KEY, 100.0) and not await two.blocked(ADDRESS_KEY, 100.0)
    assert await one.attempt(ADDRESS_KEY, 100.0)  # the sixth, wherever it lands, makes the next try wait 2 s
    for limiter in (one, two):
        assert not await limiter.attempt(ADDRESS_KEY, 101.9)  # refused, and not charged
        assert await limiter.attempt("client:code:198.51.100.8", 101.0)  # nobody else waits
    assert await two.attempt(ADDRESS_KEY, 102.0)  # the seventh: 4 s
    assert not await one.attempt(ADDRESS_KEY, 105.9) and await one.attempt(ADDRESS_KEY, 106.0)  # the eighth: 8 s
    await two.refund(ADDRESS_KEY)  # the eighth was the right code: given back
    assert not await one.attempt(ADDRESS_KEY, 113.9)  # a wait already started runs out on its own
    assert await one.attempt(ADDRESS_KEY, 114.0) and await one.blocked(ADDRESS_KEY, 121.9)  # eighth again: 8 s
    assert not await one.blocked(ADDRESS_KEY, 122.0)


async def concurrent_tries_all_count(a: AsyncEngine, b: AsyncEngine, n: int = 40) -> None:
    one, two = pair(a, b, BackoffPolicy(free=1000))
    await asyncio.gather(*((one if i % 2 else two).attempt("busy", 50.0) for i in range(n)))
    assert await failures(a, "busy", one) == n, "every try counts, also when both processes try at the same moment"


async def a_burst_gets_no_more_tries_than_a_sequence(a: AsyncEngine, b: AsyncEngine, n: int = 40) -> None:
    one, two = pair(a, b, BackoffPolicy(free=5, first_delay=2.0))
    allowed = await asyncio.gather(*((one if i % 2 else two).attempt("burst", 50.0) for i in range(n)))
    assert sum(allowed) == 6, "five free tries and the one that starts the wait; the rest of the burst is refused"
    assert await failures(a, "burst", one) == 6


async def failures(engine: AsyncEngine, key: str, limiter: DatabaseAttemptLimiter) -> int:
    query = select(attempt_failures.c.failures).where(attempt_failures.c.key_hash == limiter.stored_key(key))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def the_table_is_swept_and_capped(a: AsyncEngine, b: AsyncEngine) -> None:
    one, two = pair(a, b, BackoffPolicy(free=0, first_delay=10.0, forget_after=1000.0, max_keys=30))
    await one.attempt("quiet", 0.0)
    for i in range(50):
        await (one if i % 2 else two).attempt(f"stranger-{i}", 600.0 + i)
    assert await one.count() == 51
    assert await two.sweep(1200.0) == 1 + 20  # the quiet key, then the oldest strangers beyond the cap
    assert await one.count() == 30
    assert not await one.blocked("quiet", 1200.0)
    assert await one.blocked("stranger-49", 650.0)  # the newest are kept
    assert await one.attempt("quiet", 1300.0)
    assert await one.attempt("quiet", 1310.0)
    assert await one.blocked("quiet", 1329.0) and not await one.blocked("quiet", 1330.0)  # second try: 20 s
    assert await one.attempt("quiet", 3000.0)  # quiet again for longer than forget_after: counts from one
    assert await one.blocked("quiet", 3009.0) and not await one.blocked("quiet", 3010.0)
