"""The shared attempt limiter on one SQLite file opened by two engines (as two worker processes open it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.session import attempt_store_checks as checks
from web.database import create_engine, migrate


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await asyncio.to_thread(migrate, url)
    a, b = create_engine(url), create_engine(url)
    yield a, b
    await a.dispose()
    await b.dispose()


async def test_failures_from_both_processes_count_against_one_key(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.failures_from_both_processes_count_against_one_key(*engines)


async def test_concurrent_tries_all_count(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.concurrent_tries_all_count(*engines)


async def test_a_burst_gets_no_more_tries_than_a_sequence(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.a_burst_gets_no_more_tries_than_a_sequence(*engines)


async def test_the_table_is_swept_and_capped(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.the_table_is_swept_and_capped(*engines)


async def test_no_key_is_stored_in_clear(tmp_path: Path, engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.failures_from_both_processes_count_against_one_key(*engines)
    one, _two = checks.pair(*engines)
    await one.attempt(checks.ADDRESS_KEY, 200.0)
    for engine in engines:
        await engine.dispose()
    stored = checks.stored_bytes(tmp_path, "shared.db*")
    assert one.stored_key(checks.ADDRESS_KEY).encode() in stored
    assert b"198.51.100" not in stored and checks.ADDRESS_KEY.encode() not in stored
