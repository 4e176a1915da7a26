"""Staff login: the real OIDC client against the development identity provider, over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tests.access.oidc_harness import CLIENT_ID, Harness, start_harness
from web.oidc import LoginRefused, PendingLogin, ProviderError, new_pkce_verifier


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = await start_harness()
    yield h
    await h.close()


async def _login(h: Harness, subject: str = "demo-formidler") -> tuple[dict[str, str], PendingLogin]:
    url, pending = await h.client.begin("/staff/meetings")
    return await h.pick_user(url, subject), pending


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_happy_path_through_the_browser_and_the_sealed_cookie(alg: str) -> None:
    h = await start_harness(signing_alg=alg)
    try:
        async with h.browser.get(f"{h.base}/auth/login?next=/staff/meetings") as page:
            assert page.status == 200
            authorize_url = str(page.url)
            text = await page.text()
        assert authorize_url.startswith(f"{h.idp.issuer}/authorize?")
        assert "code_challenge_method=S256" in authorize_url and "ui_locales=nb" in authorize_url
        assert '<html lang="nb">' in text and "Logg inn som Kari Ergo (formidler)" in text
        assert "Tor &lt;Tilgang&gt; &amp; co" in text  # names are escaped
        params = await h.pick_user(authorize_url, "demo-tilgangsstyrer")
        assert params["iss"] == h.idp.issuer
        callback = f"{h.redirect_uri}?" + "&".join(f"{k}={v}" for k, v in params.items())
        async with h.browser.get(callback) as done:
            body = await done.json()
            assert done.status == 200, body
        assert body == {
            "subject": "demo-tilgangsstyrer",
            "return_path": "/staff/meetings",
            "name": "Tor <Tilgang> & co",
        }
        # The pending login was deleted: the same callback cannot be replayed in this browser.
        async with h.browser.get(callback) as again:
            assert again.status == 400 and (await again.json())["code"] == "login_expired"
    finally:
        await h.close()


async def test_private_key_jwt_client_authentication(harness: Harness) -> None:
    client = harness.new_client(
        auth_method="private_key_jwt", client_secret=None, client_key=harness.client_key, client_key_id="rp-key-1"
    )
    url, pending = await client.begin(None)
    result = await client.finish(await harness.pick_user(url), pending)
    assert result.subject == "demo-formidler" and result.return_path == "/staff"


async def test_wrong_state_is_refused(harness: Harness) -> None:
    params, pending = await _login(harness)
    for state in ("forged", "", None):
        changed = dict(params)
        if state is None:
            del changed["state"]
        else:
            changed["state"] = state
        with pytest.raises(LoginRefused) as refused:
            await harness.client.finish(changed, pending)
        assert refused.value.code == "state_mismatch"
        assert "hører ikke til denne innloggingen" in str(refused.value)
    # The right state still works: the refusals exchanged nothing.
    assert (await harness.client.finish(params, pending)).subject == "demo-formidler"


async def test_wrong_pkce_verifier_is_refused_by_the_provider_and_the_code_is_spent(harness: Harness) -> None:
    params, pending = await _login(harness)
    with pytest.raises(LoginRefused) as refused:
        await harness.client.finish(params, replace(pending, verifier=new_pkce_verifier()))
    assert refused.value.code == "token_refused" and "PKCE" in str(refused.value)
    with pytest.raises(LoginRefused) as replayed:
        await harness.client.finish(params, pending)
    assert replayed.value.code == "token_refused"


async def test_the_provider_demands_a_verifier_and_s256(harness: Harness) -> None:
    params, _pending = await _login(harness)
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": harness.redirect_uri,
        "client_id": CLIENT_ID,
        "client_secret": "test-client-secret-0123456789",
    }
    async with harness.back_channel.post(f"{harness.idp.issuer}/token", data=form) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_grant"
    url, _ = await harness.client.begin(None)
    plain = url.replace("code_challenge_method=S256", "code_challenge_method=plain")
    async with harness.browser.get(plain, allow_redirects=False) as response:
        assert response.status == 302
        assert "error=invalid_request" in response.headers["Location"]


async def test_a_tampered_id_token_signature_is_refused(harness: Harness) -> None:
    def flip_signature(token: str) -> str:
        head, body, signature = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[10] ^= 0x01
        return f"{head}.{body}.{_b64(bytes(raw))}"

    def other_subject(token: str) -> str:
        head, body, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims["sub"] = "demo-someone-else"
        return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"

    for tamper in (flip_signature, other_subject):
        harness.tamper[:] = [tamper]
        params, pending = await _login(harness)
        with pytest.raises(LoginRefused) as refused:
            await harness.client.finish(params, pending)
        assert refused.value.code == "bad_signature"


async def test_unsigned_and_confused_algorithms_are_refused(harness: Harness) -> None:
    def unsigned(token: str) -> str:
        _head, body, _signature = token.split(".")
        return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{body}."

    def hs256(token: str) -> str:
        _head, body, signature = token.split(".")
        return f"{_b64(json.dumps({'alg': 'HS256', 'kid': 'x'}).encode())}.{body}.{signature}"

    for tamper, code in (
        (unsigned, "unsupported_alg"),
        (hs256, "unsupported_alg"),
        (lambda t: "not-a-jwt", "malformed_token"),
    ):
        harness.tamper[:] = [tamper]
        params, pending = await _login(harness)
        with pytest.raises(LoginRefused) as refused:
            await harness.client.finish(params, pending)
        assert refused.value.code == code


async def test_an_expired_id_token_is_refused() -> None:
    h = await start_harness(idp_clock=lambda: time.time() - 3600)  # the provider issues tokens an hour old
    try:
        url, pending = await h.client.begin(None)
        params = await h.pick_user(url)
        with pytest.raises(LoginRefused) as refused:
            await h.client.finish(params, pending)
        assert refused.value.code == "expired" and "utløpt" in str(refused.value)
    finally:
        await h.close()


async def test_a_nonce_mismatch_is_refused(harness: Harness) -> None:
    params, pending = await _login(harness)
    with pytest.raises(LoginRefused) as refused:
        await harness.client.finish(params, replace(pending, nonce="a-different-login"))
    assert refused.value.code == "nonce_mismatch"


async def test_a_token_for_another_client_and_a_foreign_iss_are_refused(harness: Harness) -> None:
    params, pending = await _login(harness)
    result = await harness.client.finish(params, pending)
    other = harness.new_client(client_id="another-service")
    with pytest.raises(LoginRefused) as refused:
        await other.validate_id_token(result.id_token, nonce=pending.nonce)
    assert refused.value.code == "audience_mismatch"
    params, pending = await _login(harness)
    with pytest.raises(LoginRefused) as wrong_iss:
        await harness.client.finish({**params, "iss": "https://evil.example"}, pending)
    assert wrong_iss.value.code == "issuer_mismatch"
    without_iss = {k: v for k, v in params.items() if k != "iss"}
    with pytest.raises(LoginRefused):
        await harness.client.finish(without_iss, pending)  # the provider says it always sends iss


async def test_the_provider_reporting_an_error_or_a_cancel_is_refused(harness: Harness) -> None:
    _url, pending = await harness.client.begin(None)
    with pytest.raises(LoginRefused) as refused:
        await harness.client.finish(
            {"state": pending.state, "error": "access_denied", "iss": harness.idp.issuer}, pending
        )
    assert refused.value.code == "idp_error" and refused.value.detail == "access_denied"
    with pytest.raises(LoginRefused) as missing:
        await harness.client.finish({"state": pending.state, "iss": harness.idp.issuer}, pending)
    assert missing.value.code == "missing_code"


async def test_a_wrong_client_secret_and_a_wrong_issuer_are_provider_errors(harness: Harness) -> None:
    client = harness.new_client(client_secret="wrong-secret")
    url, pending = await client.begin(None)
    with pytest.raises(ProviderError) as rejected:
        await client.finish(await harness.pick_user(url), pending)
    assert rejected.value.code == "client_rejected"
    with pytest.raises(ProviderError) as discovery:
        await harness.new_client(issuer=harness.idp.issuer + "/other").begin(None)
    assert discovery.value.code == "discovery_failed"
    with pytest.raises(ProviderError):
        await harness.new_client(allow_http=False).begin(None)  # plain http only when allowed


async def test_a_pending_login_that_is_too_old_is_refused(harness: Harness) -> None:
    params, pending = await _login(harness)
    with pytest.raises(LoginRefused) as refused:
        await harness.client.finish(params, replace(pending, created=time.time() - 3600))
    assert refused.value.code == "login_expired"
