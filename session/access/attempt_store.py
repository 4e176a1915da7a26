"""Failed-attempt counts in the shared database, so that every worker process and node slows one guesser down.

An in-memory limiter per process gives a guesser P times the tries when P processes (``serve --workers``, or
nodes behind HAProxy) share the load. Here each try is charged by one atomic statement (an upsert that adds one
unless the key is waiting, not a read followed by a write), so two processes trying the same key at the same
moment both count; the wait that follows is taken from the count the database returns, by the same
:class:`BackoffPolicy` as in memory, and written before the row's lock is released.

Keys are personal data when they stand for a client's address, so only an HMAC of the caller's key (itself
already a keyed hash) under a secret kept outside the database is stored, and nothing here logs a key. The table
is bounded: :meth:`DatabaseAttemptLimiter.sweep` (run by the app's background loop) forgets keys that were quiet
for ``forget_after`` and keeps at most ``max_keys`` rows, the most recently failing ones.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from session.access.attempt_limits import BackoffPolicy
from session.cluster_tables import attempt_failures

_T = attempt_failures


class DatabaseAttemptLimiter:
    """An :class:`~session.access.attempt_limits.AttemptLimiter` whose counts live in ``attempt_failures``."""

    def __init__(self, engine: AsyncEngine, secret: bytes, policy: BackoffPolicy | None = None) -> None:
        self._engine = engine
        self._mac_key = hashlib.sha256(b"samhandling-attempts:" + secret).digest()
        self.policy = policy or BackoffPolicy()

    def stored_key(self, key: str) -> str:
        """The row's key for ``key``: an HMAC, so the table alone does not tell whose failures it holds."""
        return hmac.new(self._mac_key, key.encode(), hashlib.sha256).hexdigest()

    async def blocked(self, key: str, now: float) -> bool:
        """Whether ``key`` must wait now (read only: for tests and inspection; requests use :meth:`attempt`)."""
        query = select(_T.c.last_failed, _T.c.wait_until).where(_T.c.key_hash == self.stored_key(key))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return row is not None and now - row.last_failed <= self.policy.forget_after and now < row.wait_until

    async def attempt(self, key: str, now: float) -> bool:
        digest = self.stored_key(key)
        quiet = _T.c.last_failed < now - self.policy.forget_after
        waiting = (_T.c.wait_until > now) & ~quiet
        async with self._engine.begin() as conn:
            # One upsert charges the try unless the key is waiting; the row stays locked until the wait for the new
            # count is written below, so concurrent tries from any process are charged (or refused) one by one.
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            charged = case((quiet, 1), else_=_T.c.failures + 1)
            statement = (
                insert(_T)
                .values(key_hash=digest, failures=1, last_failed=now, wait_until=now)
                .on_conflict_do_update(
                    index_elements=[_T.c.key_hash],
                    set_={
                        "failures": case((waiting, _T.c.failures), else_=charged),
                        "last_failed": case((waiting, _T.c.last_failed), else_=now),
                        "wait_until": case((waiting, _T.c.wait_until), else_=now),
                    },
                )
                .returning(_T.c.failures, _T.c.wait_until)
            )
            row = (await conn.execute(statement)).one()
            if row.wait_until > now:
                return False
            delay = self.policy.delay(int(row.failures))
            if delay > 0:
                await conn.execute(update(_T).where(_T.c.key_hash == digest).values(wait_until=now + delay))
        return True

    async def refund(self, key: str) -> None:
        async with self._engine.begin() as conn:
            where = (_T.c.key_hash == self.stored_key(key)) & (_T.c.failures > 0)
            await conn.execute(update(_T).where(where).values(failures=_T.c.failures - 1))

    async def sweep(self, now: float) -> int:
        """Forget keys quiet for ``forget_after``, then all but the ``max_keys`` most recent; returns rows removed."""
        async with self._engine.begin() as conn:
            quiet = await conn.execute(delete(_T).where(_T.c.last_failed < now - self.policy.forget_after))
            removed = quiet.rowcount or 0
            oldest_kept = select(_T.c.last_failed).order_by(_T.c.last_failed.desc()).limit(1)
            beyond = (await conn.execute(oldest_kept.offset(self.policy.max_keys))).scalar()
            if beyond is not None:
                over = await conn.execute(delete(_T).where(_T.c.last_failed <= beyond))
                removed += over.rowcount or 0
        return removed

    async def count(self) -> int:
        """Rows held (for tests and metrics)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(_T))).scalar_one())
