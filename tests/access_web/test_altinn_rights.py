"""The formidler right from Altinn's PDP (a local fake speaking its XACML JSON) and from the embedded database:
decisions, the short cache, the audit of every decision, and a live call ended when the right is withdrawn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from session.access.altinn_pdp import AltinnPdp
from session.access.authorization import CachedAuthorization, Outcome, RightQuery
from tests.access.fake_pdp import SUBSCRIPTION_KEY, TOKEN, FakePdp
from tests.aiortc_client import host_client
from tests.live_server import LiveServer, create_meeting, server_settings, staff_client, start_server
from web.authorization_setup import AUTHORIZATION, PERSONS
from web.keys import RECORDS
from web.settings import Secret

pytestmark = pytest.mark.timeout(90)
RESOURCE = "nav_hjelpemidler_formidling-behovsmelding"
PID = "01017012345"  # a made-up number in the shape of one
UNIT = "992000007"  # the demo ergoterapitjenesten, where Kari (staff 1) is formidler
KARI, NINA = 1, 7


@pytest.fixture
async def pdp() -> AsyncIterator[FakePdp]:
    fake = await FakePdp(RESOURCE).start()
    yield fake
    await fake.close()


async def token() -> str:
    return TOKEN


async def test_the_pdp_is_asked_in_its_own_shape_and_only_permit_permits(pdp: FakePdp) -> None:
    pdp.rights = {(PID, UNIT): "Permit", (PID, "995000008"): "Deny", ("02027012345", UNIT): "Indeterminate"}
    async with aiohttp.ClientSession() as http:
        client = AltinnPdp(http, pdp.url, subscription_key=SUBSCRIPTION_KEY, token=token)

        async def outcome(person: str, number: str, resource: str = RESOURCE) -> Outcome:
            return (await client.decide(RightQuery(KARI, person, 2, number, resource=resource))).outcome

        assert await outcome(PID, UNIT) is Outcome.PERMIT
        assert await outcome(PID, "995000008") is Outcome.DENY
        assert await outcome(PID, "991000003") is Outcome.DENY  # NotApplicable: nothing delegated there
        assert await outcome(PID, UNIT, resource="another-resource") is Outcome.DENY
        assert await outcome("02027012345", UNIT) is Outcome.ERROR
        calls = pdp.calls
        assert await outcome("", UNIT) is Outcome.ERROR and pdp.calls == calls  # no pid: not even asked
        pdp.broken = True
        assert await outcome(PID, UNIT) is Outcome.ERROR
        wrong_key = AltinnPdp(http, pdp.url, subscription_key="wrong", token=token)
        assert (await wrong_key.decide(RightQuery(KARI, PID, 2, UNIT))).outcome is Outcome.ERROR
        unreachable = AltinnPdp(http, "http://127.0.0.1:9/authorize", subscription_key="k", token=token)
        assert (await unreachable.decide(RightQuery(KARI, PID, 2, UNIT))).outcome is Outcome.ERROR
    assert "01017012345" not in repr(RightQuery(KARI, PID, 2, UNIT))


async def test_decisions_are_cached_briefly_and_errors_never(pdp: FakePdp) -> None:
    pdp.rights = {(PID, UNIT): "Permit"}
    now = [1000.0]
    async with aiohttp.ClientSession() as http:
        cached = CachedAuthorization(
            AltinnPdp(http, pdp.url, subscription_key=SUBSCRIPTION_KEY, token=token), ttl_s=30, clock=lambda: now[0]
        )
        query = RightQuery(KARI, PID, 2, UNIT)
        assert (await cached.decide(query)).source == "altinn"
        now[0] += 29
        assert (await cached.decide(query)).source == "cache" and pdp.calls == 1
        now[0] += 2
        pdp.rights = {}
        decision = await cached.decide(query)
        assert decision.outcome is Outcome.DENY and pdp.calls == 2
        pdp.broken = True
        now[0] += 31
        assert (await cached.decide(query)).outcome is Outcome.ERROR
        assert (await cached.decide(query)).outcome is Outcome.ERROR and pdp.calls == 4


async def test_the_embedded_provider_answers_from_the_grants_and_every_decision_is_audited(
    server: LiveServer,
) -> None:
    provider = server.app[AUTHORIZATION]
    assert (await provider.decide(RightQuery(KARI, "", 2, UNIT))).outcome is Outcome.PERMIT
    assert (await provider.decide(RightQuery(NINA, "", 2, UNIT))).outcome is Outcome.DENY
    entries = await server.app[RECORDS].audit.entries(org_ids=[2], limit=1000)
    decisions = [e.record.details for e in entries if e.record.action == "authorization.decision"]
    assert [(d["target_staff"], d["outcome"], d["source"]) for d in decisions] == [
        (KARI, "permit", "database"),
        (NINA, "deny", "database"),
    ]


async def test_a_right_withdrawn_in_altinn_ends_the_live_call_at_the_next_check(pdp: FakePdp, tmp_path: Path) -> None:
    token_file = tmp_path / "altinn-token"
    token_file.write_text(TOKEN + "\n")
    settings = server_settings(
        tmp_path / "data",
        authorization_provider="altinn",
        altinn_pdp_url=pdp.url,
        altinn_subscription_key=Secret(SUBSCRIPTION_KEY),
        altinn_token_file=str(token_file),
        rights_check_interval_s=1,
        rights_cache_s=0,
    )
    live = await start_server(settings)
    kari = await staff_client(live, KARI)
    host = None
    try:
        live.app[PERSONS].remember(KARI, PID)  # what ID-porten's pid claim gives at login
        pdp.rights = {(PID, UNIT): "Permit"}
        links = await create_meeting(kari, live, ["bruker"])
        host = await host_client(live.url, links["host"], None)
        await host.connect()
        await host.enter()
        await asyncio.sleep(1.5)  # at least one check passes with the right in place
        assert pdp.calls >= 1
        loop = asyncio.get_running_loop()
        withdrawn = loop.time()
        pdp.rights = {}  # the access manager removed the delegation in Altinn
        ended = await host.wait_for("ended", timeout=3)
        assert ended["reason"] == "access_revoked"
        assert loop.time() - withdrawn < 2.5  # within the configured interval (1 s) plus one check
        async with kari.get(f"{live.url}/staff", allow_redirects=False) as resp:
            assert resp.status == 302
        entries = await live.app[RECORDS].audit.entries(org_ids=None, limit=1000)
        outcomes = [e.record.details["outcome"] for e in entries if e.record.action == "authorization.decision"]
        assert outcomes[0] == "permit" and outcomes[-1] == "deny"
        assert any(e.record.action == "access.right_lost" for e in entries)
        assert all(PID not in str(e.record.to_payload()) for e in entries)
    finally:
        if host is not None:
            await host.close()
        await kari.close()
        await live.stop()
