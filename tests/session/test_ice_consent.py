"""ICE consent through real aioice connections on loopback: late answers keep a call, silence ends it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aioice.ice as ice
import pytest

from session.media import ice_consent
from session.media.ice_consent import ConsentClock

INTERVAL_S = 0.2
LIFETIME_S = 2.4  # three times the 0.8 s late answers: margin for a busy 2-core machine


def test_consent_lasts_its_lifetime_after_the_last_answer() -> None:
    clock = ConsentClock(granted_at=100.0, lifetime_s=30.0)
    assert not clock.expired(129.9)
    assert clock.expired(130.0)
    clock.answered(125.0)
    assert not clock.expired(154.9)
    clock.answered(110.0)  # an answer to an older check, arriving later than a newer one's, never takes consent back
    assert clock.granted_at == 125.0 and clock.answers == 2


async def _pair() -> tuple[Any, Any]:
    """Two real ICE agents, connected over 127.0.0.1 only."""
    a = ice.Connection(ice_controlling=True, components=1, use_ipv6=False)
    b = ice.Connection(ice_controlling=False, components=1, use_ipv6=False)
    await asyncio.gather(a.gather_candidates(), b.gather_candidates())
    for me, other in ((a, b), (b, a)):
        for candidate in other.local_candidates:
            if candidate.host == "127.0.0.1":
                await me.add_remote_candidate(candidate)
        await me.add_remote_candidate(None)
        me.remote_username, me.remote_password = other.local_username, other.local_password
    await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
    return a, b


@pytest.fixture
async def short_consent(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Seconds instead of half minutes; the same for aioice's own check, which the tests compare against."""
    monkeypatch.setattr(ice_consent, "CONSENT_INTERVAL_S", INTERVAL_S)
    monkeypatch.setattr(ice_consent, "CONSENT_LIFETIME_S", LIFETIME_S)
    monkeypatch.setattr(ice, "CONSENT_INTERVAL", INTERVAL_S)
    monkeypatch.setattr(ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield
    ice_consent.uninstall()


def _answer_late(peer: Any, delay_s: float | None) -> None:
    """The peer (a real aioice agent) answers every check ``delay_s`` late, or never (None): a busy browser."""
    answer = peer.request_received
    loop = asyncio.get_running_loop()

    def late(message: Any, addr: Any, protocol: Any) -> None:
        if delay_s is not None:
            loop.call_later(delay_s, answer, message, addr, protocol)

    peer.request_received = late


def _alive(connection: Any) -> bool:
    return bool(connection._nominated) and connection._query_consent_task is not None


async def _consent_after(seconds: float, delay_s: float | None) -> tuple[bool, bool]:
    a, b = await _pair()
    try:
        _answer_late(b, delay_s)
        await asyncio.sleep(seconds)
        return _alive(a), _alive(b)
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_answers_later_than_aioice_waits_still_keep_consent(short_consent: None) -> None:
    ice_consent.uninstall()
    plain, _ = await _consent_after(6.0, delay_s=0.8)  # six failed checks of 0.2 + 0.5 s
    assert not plain, "aioice's own check should give up on answers 0.8 s late (else this test proves nothing)"
    ice_consent.install()
    kept, _ = await _consent_after(3 * LIFETIME_S, delay_s=0.8)
    assert kept, "answers 0.8 s late ended the connection"


async def test_a_silent_peer_loses_consent_after_its_lifetime(short_consent: None) -> None:
    ice_consent.install()
    a, b = await _pair()
    try:
        _answer_late(b, None)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while _alive(a) and loop.time() - start < 5 * LIFETIME_S:  # noqa: ASYNC110  # aioice has no close event
            await asyncio.sleep(0.05)
        waited = loop.time() - start
        assert not _alive(a), "consent never expired for a peer that stopped answering"
        assert LIFETIME_S - INTERVAL_S <= waited <= LIFETIME_S + 3 * INTERVAL_S, waited
    finally:
        await asyncio.gather(a.close(), b.close())
