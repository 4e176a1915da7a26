"""The shared attempt limiter on PostgreSQL: two engines (two nodes' connection pools) on one database count every
failure of one key, also failures at the same moment, and the sweep keeps the table bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from session.cluster_tables import attempt_failures
from tests.session import attempt_store_checks as checks
from web.database import create_engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
async def engines(postgres: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    a, b = create_engine(postgres), create_engine(postgres)
    async with a.begin() as conn:
        await conn.execute(delete(attempt_failures))
    yield a, b
    await a.dispose()
    await b.dispose()


async def test_failures_from_both_nodes_count_against_one_key(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.failures_from_both_processes_count_against_one_key(*engines)


async def test_concurrent_tries_all_count(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.concurrent_tries_all_count(*engines)


async def test_a_burst_gets_no_more_tries_than_a_sequence(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.a_burst_gets_no_more_tries_than_a_sequence(*engines)


async def test_the_table_is_swept_and_capped(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    await checks.the_table_is_swept_and_capped(*engines)
