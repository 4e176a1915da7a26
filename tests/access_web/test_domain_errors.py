"""One middleware answers the domain's refusals: the status the refusal calls for, in the reader's language, as a
page for a browser, JSON for a JSON client and text otherwise; and one gate checks login, role and CSRF for
every staff route."""

from __future__ import annotations

import aiohttp
import pytest

from recordings.errors import AccessDenied, ConfirmationRefused, ReasonMissing
from session.access.errors import AccessRefused, InvalidRequest, LinkInUseElsewhere, NotFound
from session.errors import LinkExpired, LinkInvalid, LinkRevoked, MeetingInvalid
from tests.live_server import LiveServer, csrf_of, staff_client
from web.i18n import translate
from web.middlewares import refusal_status

pytestmark = pytest.mark.timeout(90)


def test_each_refusal_has_its_status() -> None:
    assert refusal_status(NotFound()) == 404  # never 403: another organisation's object is not confirmed
    assert refusal_status(AccessRefused("nei", reason="x")) == 403
    assert refusal_status(InvalidRequest("nei")) == 400
    assert refusal_status(LinkInvalid()) == 403
    assert refusal_status(LinkExpired()) == refusal_status(LinkRevoked()) == 410
    assert refusal_status(LinkInUseElsewhere()) == 409
    assert refusal_status(MeetingInvalid("nei")) == 403
    assert refusal_status(AccessDenied()) == 404
    assert refusal_status(ReasonMissing()) == 403
    assert refusal_status(ConfirmationRefused("nei")) == 409
    assert refusal_status(ValueError("a bug")) is None


async def test_a_refusal_is_answered_as_the_client_reads(server: LiveServer) -> None:
    kari = await staff_client(server)
    try:
        async with kari.get(f"{server.url}/staff") as resp:
            csrf = csrf_of(await resp.text())
        url = f"{server.url}/staff/invitations/999999/revoke"
        async with kari.post(url, data={"csrf": csrf}, headers={"Accept": "text/html"}) as resp:
            assert resp.status == 404
            assert resp.content_type == "text/html"
            assert "Fant ikke lenken." in await resp.text()
        async with kari.post(url, data={"csrf": csrf}, headers={"Accept": "application/json"}) as resp:
            assert resp.status == 404
            assert await resp.json() == {"error": "not_found", "message": "Fant ikke lenken."}
        async with kari.post(url, data={"csrf": csrf}, headers={"Accept": "*/*"}) as resp:
            assert resp.status == 404
            assert await resp.text() == "Fant ikke lenken."
    finally:
        await kari.close()


async def test_a_coded_refusal_is_said_in_the_readers_language(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as client:
        for lang in ("nb", "nn", "en"):
            headers = {"Accept-Language": lang, "Accept": "text/plain"}
            async with client.get(f"{server.url}/j/not-a-link/sjekk/data", headers=headers) as resp:
                assert resp.status == 403
                assert await resp.text() == translate(lang, "err.link.invalid")


async def test_the_staff_gate_checks_login_then_role_then_csrf(server: LiveServer) -> None:
    url = f"{server.url}/staff/organisations"
    async with aiohttp.ClientSession() as stranger, stranger.post(url, allow_redirects=False) as resp:
        assert (resp.status, resp.headers.get("Location")) == (302, "/")
    kari = await staff_client(server)  # a formidler: may not manage organisations
    try:
        async with kari.post(url, data={"csrf": "wrong"}) as resp:
            assert resp.status == 403
            assert translate("nb", "error.forbidden") in await resp.text()
        async with kari.post(f"{server.url}/staff/meetings", data={"csrf": "wrong"}) as resp:
            assert resp.status == 403
            assert "Skjemaet er utløpt eller ugyldig" in await resp.text()
    finally:
        await kari.close()
