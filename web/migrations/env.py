"""Alembic environment: runs migrations through the async engine the service uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from web.database import create_engine

MIGRATION_LOCK = 0x53414D48  # "SAMH": nodes starting together on PostgreSQL migrate one after the other


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def _main(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or ""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_main(url))
    else:  # pragma: no cover - migrations are run before the loop starts
        raise RuntimeError("migrate() must be called outside a running event loop")


run()
