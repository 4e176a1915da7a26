"""ICE consent freshness as RFC 7675 means it: consent lasts 30 s after the last answer, however late it came.

aioice checks consent every ~5 s, but gives each check one packet and 0.5 s, and ends the connection after six
unanswered checks in a row. A tablet on congested 4G, or a browser busy decoding, answers every check, only late:
in a three-browser call on two cores the answers came 0.6, 1.6, 3.7, 7 s after the check (the browser's socket
queue grew), so every check counted as failed, and after ~30 s the server closed the late adviser's connection and
the host's, while media was still arriving. Here each check is retransmitted and listened to for as long as
consent can last, any answer renews consent, and only :data:`CONSENT_LIFETIME_S` without an answer ends the
connection (a peer that is really gone: closed tab, lost network).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any

import aioice.ice as _ice
from aioice import stun

log = logging.getLogger(__name__)

CONSENT_INTERVAL_S = 5.0
"""RFC 7675 § 5.1: a check every 5 s on average (randomised 0.8–1.2x so that peers do not synchronise)."""
CONSENT_LIFETIME_S = 30.0
"""RFC 7675 § 5.1: consent expires 30 s after the last answer."""
CHECK_RETRANSMISSIONS = 5
"""STUN retransmissions of one check (RTO 0.5 s doubling: sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5 s, given up at
31.5 s), so a check answered late or after a lost packet still renews consent."""


@dataclass(slots=True)
class ConsentClock:
    """Pure state: when consent was last granted, and whether it has lapsed."""

    granted_at: float
    lifetime_s: float = CONSENT_LIFETIME_S
    answers: int = 0

    def answered(self, now: float) -> None:
        self.granted_at = max(self.granted_at, now)
        self.answers += 1

    def expired(self, now: float) -> bool:
        return now - self.granted_at >= self.lifetime_s


async def binding_request(connection: Any, pair: Any, retransmissions: int) -> None:
    """One STUN binding request on ``pair``, as a consent check sends it; returns when it is answered (raises
    :class:`aioice.stun.TransactionError` when it is not)."""
    request = connection.build_request(pair, nominate=False)
    await pair.protocol.request(
        request,
        pair.remote_addr,
        integrity_key=connection.remote_password.encode("utf8"),
        retransmissions=retransmissions,
    )


async def _check(connection: Any, pair: Any, clock: ConsentClock) -> None:
    with contextlib.suppress(stun.TransactionError, ConnectionError, OSError):
        await binding_request(connection, pair, CHECK_RETRANSMISSIONS)
        clock.answered(asyncio.get_running_loop().time())


async def query_consent(self: Any) -> None:
    """Replaces ``aioice.ice.Connection.query_consent`` (same contract: runs until consent lapses, then closes)."""
    assert self.remote_password is not None
    loop = asyncio.get_running_loop()
    clock = ConsentClock(loop.time(), CONSENT_LIFETIME_S)
    checks: set[asyncio.Future[None]] = set()
    try:
        while True:
            await asyncio.sleep(CONSENT_INTERVAL_S * (0.8 + 0.4 * random.random()))  # noqa: S311  # jitter
            if clock.expired(loop.time()):
                break
            for pair in list(self._nominated.values()):
                check = asyncio.ensure_future(_check(self, pair, clock))
                checks.add(check)
                check.add_done_callback(checks.discard)
    finally:
        for pending in list(checks):
            pending.cancel()
    log.info("ice consent expired", extra={"answers": clock.answers})
    self._query_consent_task = None  # close() would otherwise cancel this very task
    await self.close()


_PLAIN = _ice.Connection.query_consent


def install() -> None:
    """Use this consent check for every ICE connection from now on (idempotent, process-wide). Fails loudly if
    aioice no longer has what it replaces and uses (the version is pinned in pyproject.toml)."""
    for name in ("query_consent", "build_request", "close"):
        if not hasattr(_ice.Connection, name):
            raise RuntimeError(f"aioice.ice.Connection has no {name}: the consent check cannot be installed")
    _ice.Connection.query_consent = query_consent  # type: ignore[method-assign]


def uninstall() -> None:
    """Back to aioice's own check (tests compare the two)."""
    _ice.Connection.query_consent = _PLAIN  # type: ignore[method-assign]
