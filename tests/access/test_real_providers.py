"""Login against a local provider that behaves like ID-porten (PAR, acr levels, pid) and Entra ID (groups)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest

from session.access.staff_roles import StaffRole
from tests.access.fake_providers import CLIENT_SECRET, FakeProvider
from web.identity_providers import (
    ProviderConfigError,
    idporten_accepted_acr,
    parse_group_roles,
    roles_from_groups,
)
from web.oidc import LoginRefused, OidcClient, OidcSettings, ProviderError

DEV = {"SAMHANDLING_DEV_MODE": "true"}
"""Settings tests run without an identity provider of their own."""

REDIRECT = "http://127.0.0.1:9/auth/callback"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def provider(kind: str) -> FakeProvider:
    return await FakeProvider(kind, "samhandling", (REDIRECT,), person={"sub": "person-1", "pid": "x"}).start()


def client_for(fake: FakeProvider, http: aiohttp.ClientSession, level: str = "substantial") -> OidcClient:
    acr = {} if fake.kind != "idporten" else {
        "acr_values": f"idporten-loa-{level}", "accepted_acr": idporten_accepted_acr(level)
    }  # fmt: skip
    settings = OidcSettings(
        issuer=fake.issuer, client_id="samhandling", redirect_uri=REDIRECT, client_secret=CLIENT_SECRET,
        allow_http=True, **acr,  # type: ignore[arg-type]
    )  # fmt: skip
    return OidcClient(settings, http)


async def log_in(client: OidcClient, http: aiohttp.ClientSession) -> tuple[dict[str, str], object]:
    url, pending = await client.begin("/staff")
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query)), pending


async def test_idporten_gets_a_pushed_request_with_acr_and_pkce_and_the_browser_sees_only_its_uri(
    http: aiohttp.ClientSession,
) -> None:
    fake = await provider("idporten")
    try:
        client = client_for(fake, http)
        params, pending = await log_in(client, http)
        (pushed,) = fake.pushed
        assert pushed["acr_values"] == "idporten-loa-substantial"
        assert pushed["code_challenge_method"] == "S256" and len(pushed["code_challenge"]) == 43
        assert pushed["client_secret"] == CLIENT_SECRET  # the client authenticated on the back channel
        (seen,) = fake.authorize_requests
        assert set(seen) == {"client_id", "request_uri"}  # state, nonce and challenge never pass the browser
        result = await client.finish(params, pending)  # type: ignore[arg-type]
        assert result.subject == "person-1" and result.claims["acr"] == "idporten-loa-substantial"
        fake.acr = "idporten-loa-high"  # a higher level than asked for is welcome
        params, pending = await log_in(client, http)
        assert (await client.finish(params, pending)).claims["acr"] == "idporten-loa-high"  # type: ignore[arg-type]
    finally:
        await fake.close()


async def test_a_token_with_too_low_an_acr_is_refused(http: aiohttp.ClientSession) -> None:
    fake = await provider("idporten")
    try:
        client = client_for(fake, http, level="high")
        fake.acr = "idporten-loa-substantial"
        params, pending = await log_in(client, http)
        assert fake.pushed[-1]["acr_values"] == "idporten-loa-high"
        with pytest.raises(LoginRefused) as refused:
            await client.finish(params, pending)  # type: ignore[arg-type]
        assert refused.value.code == "acr_insufficient"
        fake.acr = "idporten-loa-low"  # not a level at all
        params, pending = await log_in(client, http)
        with pytest.raises(LoginRefused):
            await client.finish(params, pending)  # type: ignore[arg-type]
    finally:
        await fake.close()


async def test_a_refused_push_is_a_provider_error(http: aiohttp.ClientSession) -> None:
    fake = await provider("idporten")
    try:
        settings = OidcSettings(
            issuer=fake.issuer, client_id="samhandling", redirect_uri=REDIRECT, client_secret="wrong", allow_http=True
        )
        with pytest.raises(ProviderError) as failed:
            await OidcClient(settings, http).begin(None)
        assert failed.value.code == "client_rejected" and fake.pushed == []
    finally:
        await fake.close()


async def test_entra_without_par_sends_the_request_in_the_url_and_groups_give_centre_roles(
    http: aiohttp.ClientSession,
) -> None:
    fake = await provider("entra")
    fake.person |= {"oid": "0000-1111", "name": "Nora NAV", "groups": ["g-advisers", "g-unrelated"]}
    try:
        client = client_for(fake, http)
        params, pending = await log_in(client, http)
        assert fake.pushed == [] and fake.authorize_requests[0]["code_challenge_method"] == "S256"
        result = await client.finish(params, pending)  # type: ignore[arg-type]
        mapping = parse_group_roles('{"g-advisers": "adviser", "g-tech": ["technician", "adviser"]}')
        assert roles_from_groups(result.claims, mapping) == {StaffRole.ADVISER}
        assert roles_from_groups({"groups": "g-tech"}, mapping) == frozenset()
        assert roles_from_groups({}, mapping) == frozenset()
    finally:
        await fake.close()


def test_group_mapping_and_levels_refuse_what_they_cannot_mean() -> None:
    for bad in ("[]", "{", '{"g": "formidler"}', '{"g": "nobody"}', '{"g": 3}'):
        with pytest.raises(ProviderConfigError):
            parse_group_roles(bad)
    assert idporten_accepted_acr("substantial") == {"idporten-loa-substantial", "idporten-loa-high"}
    assert idporten_accepted_acr("idporten-loa-high") == {"idporten-loa-high"}
    with pytest.raises(ProviderConfigError):
        idporten_accepted_acr("low")


def test_settings_read_the_level_and_refuse_half_an_entra_setup() -> None:
    from web.settings import SettingsError, load_settings

    assert load_settings(DEV).oidc_acr_level == "idporten-loa-substantial"
    assert load_settings({**DEV, "SAMHANDLING_OIDC_ACR_LEVEL": "high"}).oidc_acr_level == "idporten-loa-high"
    with pytest.raises(SettingsError, match="ACR_LEVEL"):
        load_settings({**DEV, "SAMHANDLING_OIDC_ACR_LEVEL": "low"})
    with pytest.raises(SettingsError, match="ENTRA_CLIENT_ID"):
        load_settings({**DEV, "SAMHANDLING_ENTRA_ISSUER": "https://login.microsoftonline.com/t/v2.0"})
    entra = {
        "SAMHANDLING_ENTRA_ISSUER": "https://login.microsoftonline.com/t/v2.0",
        "SAMHANDLING_ENTRA_CLIENT_ID": "c",
        "SAMHANDLING_ENTRA_CLIENT_SECRET": "s3cret-value",
        "SAMHANDLING_ENTRA_CENTRE_ORG_NUMBER": "993000000",
        "SAMHANDLING_ENTRA_GROUP_ROLES": '{"g": "formidler"}',
    }
    with pytest.raises(SettingsError, match="GROUP_ROLES") as refused:
        load_settings({**DEV, **entra})
    assert "s3cret-value" not in str(refused.value)
    settings = load_settings({**DEV, **entra, "SAMHANDLING_ENTRA_GROUP_ROLES": '{"g": "adviser"}'})
    assert settings.entra_client_id == "c" and "s3cret-value" not in repr(settings)


def test_the_platform_names_for_idporten_entra_and_the_database_are_read() -> None:
    import json

    from joserfc.jwk import RSAKey

    from web.oidc import private_key_from_jwk
    from web.settings import SettingsError, load_settings

    jwk = json.dumps(RSAKey.generate_key(2048, parameters={"kid": "nais-1"}, private=True).as_dict(private=True))
    settings = load_settings(
        {
            **DEV,
            "SAMHANDLING_DEV_MODE": "false",
            "IDPORTEN_ISSUER": "https://idporten.no",
            "IDPORTEN_CLIENT_ID": "nais-client",
            "IDPORTEN_CLIENT_JWK": jwk,
            "SAMHANDLING_DB_URL": "postgres://app:pw@10.0.0.5:5432/samhandling?sslmode=require",
        }
    )
    assert (settings.oidc_issuer, settings.oidc_client_id) == ("https://idporten.no", "nais-client")
    assert settings.database_url == "postgresql+asyncpg://app:pw@10.0.0.5:5432/samhandling"
    assert "BEGIN" not in repr(settings) and '"d"' not in repr(settings)
    assert private_key_from_jwk(settings.oidc_client_jwk.value)[1] == "nais-1"
    public_only = json.dumps(RSAKey.generate_key(2048, parameters={"kid": "x"}, private=True).as_dict(private=False))
    with pytest.raises(SettingsError, match="CLIENT_JWK"):
        load_settings({**DEV, "SAMHANDLING_OIDC_CLIENT_JWK": public_only})
    ours = load_settings(
        {**DEV, "SAMHANDLING_OIDC_ISSUER": "https://ours.example", "IDPORTEN_ISSUER": "https://idporten.no"}
    )
    assert ours.oidc_issuer == "https://ours.example"
