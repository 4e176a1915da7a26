"""The pieces of the login: PKCE, JWKs, the sealed pending-login cookie, return paths, the dev provider's guards."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.access.oidc_harness import CLIENT_ID, Harness, start_harness
from web.dev_idp import DevIdpDisabled, DevUser, setup_dev_idp
from web.oidc import (
    LoginRefused,
    OidcSettings,
    PendingLogin,
    PendingLoginCookie,
    key_from_jwk,
    pkce_challenge,
    public_jwk,
    safe_return_path,
)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = await start_harness()
    yield h
    await h.close()


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_jwks_round_trip_and_weak_keys_are_ignored() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    parsed = key_from_jwk(public_jwk(ec_key, "k1"))
    assert parsed is not None and parsed[:2] == ("k1", "ES256")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    assert key_from_jwk(public_jwk(weak, "weak")) is None
    assert key_from_jwk({"kty": "oct", "k": "c2VjcmV0"}) is None
    assert key_from_jwk({"kty": "EC", "crv": "P-256", "x": "!!", "y": "AA"}) is None
    assert key_from_jwk({**public_jwk(ec_key, "enc"), "use": "enc"}) is None


def test_the_pending_login_cookie_is_sealed_and_short_lived() -> None:
    sealer = PendingLoginCookie(b"server-secret")
    now = time.time()
    pending = PendingLogin("state", "nonce", "verifier-verifier-verifier-verifier-verifier", "/staff", now)
    value = sealer.seal(pending)
    assert "verifier" not in value and "state" not in value
    assert "verifier-verifier" not in repr(pending)
    assert sealer.open(value, now + 10) == pending
    altered = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    for bad in (None, "", altered, "x" * 3000, PendingLoginCookie(b"other-secret").seal(pending)):
        with pytest.raises(LoginRefused) as refused:
            sealer.open(bad, now)
        assert refused.value.code == "login_expired"
    with pytest.raises(LoginRefused):
        sealer.open(value, now + sealer.max_age + 1)


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("/staff/meetings?x=1", "/staff/meetings?x=1"),
        (None, "/staff"),
        ("https://evil.example/", "/staff"),
        ("//evil.example/", "/staff"),
        ("/\\evil.example", "/staff"),
        ("/staff\r\nSet-Cookie: x", "/staff"),
        ("staff", "/staff"),
    ],
)
def test_return_paths_never_leave_the_site(given: str | None, safe: str) -> None:
    assert safe_return_path(given) == safe


def test_settings_refuse_incomplete_client_authentication_and_hide_secrets() -> None:
    with pytest.raises(ValueError):
        OidcSettings(issuer="https://idp.example", client_id="c", redirect_uri="https://rp.example/cb")
    with pytest.raises(ValueError):
        OidcSettings(
            issuer="https://idp.example",
            client_id="c",
            redirect_uri="https://rp.example/cb",
            auth_method="private_key_jwt",
        )
    with pytest.raises(ValueError):
        OidcSettings(
            issuer="https://i", client_id="c", redirect_uri="https://r", client_secret="s", scopes=("profile",)
        )
    settings = OidcSettings(
        issuer="https://idp.example", client_id="c", redirect_uri="https://rp.example/cb", client_secret="hunter2"
    )
    assert "hunter2" not in repr(settings)


async def test_the_dev_provider_cannot_be_mounted_outside_development_mode() -> None:
    async def users() -> Sequence[DevUser]:
        return []

    app = web.Application()
    with pytest.raises(DevIdpDisabled):
        setup_dev_idp(app, issuer_url="http://127.0.0.1:1/dev-idp", dev_mode=False, clients=[], users=users)
    assert len(app.router.routes()) == 0
    with pytest.raises(ValueError):
        setup_dev_idp(app, issuer_url="http://127.0.0.1:1", dev_mode=True, clients=[], users=users)


async def test_the_dev_provider_never_redirects_to_an_unregistered_address(harness: Harness) -> None:
    url, _pending = await harness.client.begin(None)
    evil = url.replace("redirect_uri=http", "redirect_uri=https%3A%2F%2Fevil.example%2Fcb%3Fx%3Dhttp")
    async with harness.browser.get(evil, allow_redirects=False) as response:
        assert response.status == 400 and "Location" not in response.headers
        assert '<html lang="nb">' in await response.text()
    unknown = url.replace(f"client_id={CLIENT_ID}", "client_id=someone-else")
    async with harness.browser.get(unknown, allow_redirects=False) as response:
        assert response.status == 400


async def test_the_dev_provider_refuses_a_forged_choice_and_unknown_users(harness: Harness) -> None:
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": harness.redirect_uri,
        "state": "s",
        "nonce": "n",
        "code_challenge": pkce_challenge("v" * 43),
        "issued": str(int(time.time())),
        "ticket": "0" * 64,
        "subject": "demo-formidler",
    }
    async with harness.browser.post(f"{harness.idp.issuer}/authorize", data=form, allow_redirects=False) as response:
        assert response.status == 400 and "Location" not in response.headers
    url, _pending = await harness.client.begin(None)
    with pytest.raises(AssertionError):
        await harness.pick_user(url, "not-a-demo-user")
    async with harness.back_channel.post(f"{harness.idp.issuer}/token", data={"client_id": CLIENT_ID}) as response:
        assert response.status == 401 and (await response.json())["error"] == "invalid_client"
