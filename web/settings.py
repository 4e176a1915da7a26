"""One frozen settings object read from the environment, with defaults for the embedded mode.

Secrets are wrapped in :class:`Secret` so that printing the settings (or a traceback) never shows them.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session.media.turn_credentials import ice_servers as turn_ice_servers
from web.client_address import Network, parse_trusted_proxies

NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable, never its value."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A string whose repr is masked."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    """Everything durable lives here: the SQLite database, keys, encrypted recordings."""
    database_url: str
    """SQLAlchemy async URL; SQLite under ``data_dir`` by default, ``postgresql+asyncpg://…`` to scale."""
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    """The address people open (used in links and invitations); derived from host/port when empty."""
    dev_mode: bool = True
    """Enables the built-in development identity provider with the demo staff. Never in production: read from
    the environment it is off unless ``SAMHANDLING_DEV_MODE=true`` is given explicitly."""
    session_secret: Secret = Secret("")
    """Signs staff session cookies; generated into ``data_dir`` on first start when not given."""
    ice_servers: tuple[Mapping[str, object], ...] = ()
    """STUN/TURN servers handed to browsers and the server; empty means host candidates only."""
    turn_urls: tuple[str, ...] = ()
    """TURN servers (``turn:host:3478?transport=udp``, ``turns:…``) that share ``turn_secret`` (coturn
    ``use-auth-secret``); each connection gets its own credential that expires after ``turn_ttl_s``."""
    turn_secret: Secret = Secret("")
    turn_ttl_s: int = 6 * 3600
    ice_transport_policy: str = "all"
    """``relay`` makes browser and server use TURN only (hides both addresses; proves TURN works)."""
    ice_loopback: bool = False
    """Gather 127.0.0.1 as a host candidate (tests and single-machine demos; aioice skips it otherwise)."""
    join_link_ttl_hours: int = 72
    max_participants: int = 6
    frame_deadline_ms: int = 150
    """A frame not checked by the privacy core within this time is not sent then (it may leave later, checked, if
    nothing newer was); after half a second without a checked frame the fully obscured card goes out (see
    :mod:`privacy.vision.privacy_track`)."""
    log_level: str = "INFO"
    oidc_issuer: str = ""
    """Staff login (e.g. ID-porten). Empty in development mode: the built-in development provider is used."""
    oidc_client_id: str = "samhandling"
    oidc_client_secret: Secret = Secret("")
    oidc_client_jwk: Secret = Secret("")
    """A private JWK (JSON) for ``private_key_jwt`` client authentication, as ID-porten on NAIS gives it."""
    encode_once: bool = True
    """Encode each processed video stream once for all receivers (VP8)."""
    recordings_kek_file: str = ""
    """Key-encryption key for recordings, kept outside the data directory; recording is off without one."""
    recordings_retention_days: int = 30
    recordings_max_days: int = 90
    recordings_export: bool = False
    trusted_proxies: tuple[Network, ...] = ()
    """Proxies whose ``X-Forwarded-For`` names the client (for attempt limits); empty: the peer is the client."""
    oidc_acr_level: str = "idporten-loa-substantial"
    """ID-porten level sent as ``acr_values`` and the lowest ``acr`` accepted (``substantial`` or ``high``);
    applies to the configured ``oidc_issuer`` only."""
    entra_issuer: str = ""
    """Entra ID for the centre's own staff (``https://login.microsoftonline.com/<tenant>/v2.0``); off when empty."""
    entra_client_id: str = ""
    entra_client_secret: Secret = Secret("")
    entra_group_roles: str = "{}"
    """JSON ``{"<group object id>": "adviser" | [roles…]}``: which Entra groups give which centre roles."""
    entra_centre_org_number: str = ""
    """The centre whose roles the Entra groups give."""
    authorization_provider: str = "database"
    """Where the formidler right comes from: ``database`` (this service's grants) or ``altinn`` (Altinn 3 PDP)."""
    altinn_pdp_url: str = ""
    """``https://platform.altinn.no/authorization/api/v1/authorize`` (or TT02's)."""
    altinn_subscription_key: Secret = Secret("")
    altinn_token_file: str = ""
    """A file holding the current Altinn token (kept fresh by the platform's Maskinporten exchange); read per call."""
    altinn_resource: str = "nav_hjelpemidler_formidling-behovsmelding"
    rights_check_interval_s: int = 60
    """How often a live formidler's right is asked again; a lost right ends their calls within this time."""
    rights_cache_s: int = 30
    """How long one answer from the PDP is reused (never longer than the check interval makes sense)."""
    node_name: str = "local"
    """This node's (or worker's) name, unique in a cluster: its heartbeat row and the recordings it writes carry
    it, so the other nodes can tell which recordings to mark ``broken`` when it dies."""

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def ice_servers_now(self, now: float) -> list[dict[str, object]]:
        """``ice_servers`` plus a fresh time-limited TURN credential (one per peer connection, browser or server)."""
        return turn_ice_servers(self.ice_servers, self.turn_urls, self.turn_secret.value, self.turn_ttl_s, now)

    @property
    def oidc_redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def entra_redirect_uri(self) -> str:
        return f"{self.base_url}/auth/entra/callback"


def _policy(value: str) -> str:
    if value not in ("all", "relay"):
        raise SettingsError("SAMHANDLING_ICE_TRANSPORT_POLICY must be 'all' or 'relay'")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}")
    return value


PLATFORM_NAMES = {
    "SAMHANDLING_OIDC_ISSUER": "IDPORTEN_ISSUER",
    "SAMHANDLING_OIDC_CLIENT_ID": "IDPORTEN_CLIENT_ID",
    "SAMHANDLING_OIDC_CLIENT_JWK": "IDPORTEN_CLIENT_JWK",
    "SAMHANDLING_ENTRA_ISSUER": "AZURE_OPENID_CONFIG_ISSUER",
    "SAMHANDLING_ENTRA_CLIENT_ID": "AZURE_APP_CLIENT_ID",
    "SAMHANDLING_ENTRA_CLIENT_SECRET": "AZURE_APP_CLIENT_SECRET",
}
"""Variables NAIS injects for ``idporten:`` and ``azure:`` in the manifest; a ``SAMHANDLING_*`` value wins."""


def with_platform_names(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the platform's names copied to ours, and a database from ``SAMHANDLING_DB_URL``
    (``postgres://…``, the sqlInstance's ``envVarPrefix``) as an asyncpg URL without query options."""
    merged = dict(env)
    for ours, theirs in PLATFORM_NAMES.items():
        if not merged.get(ours) and merged.get(theirs):
            merged[ours] = merged[theirs]
    db_url = merged.get("SAMHANDLING_DB_URL", "")
    if not merged.get("SAMHANDLING_DATABASE_URL") and db_url.startswith(("postgres://", "postgresql://")):
        merged["SAMHANDLING_DATABASE_URL"] = "postgresql+asyncpg://" + db_url.split("://", 1)[1].split("?", 1)[0]
    return merged


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``SAMHANDLING_*`` variables (and the platform's names for the same things); anything unset falls back
    to the embedded default."""
    env = with_platform_names(os.environ if env is None else env)
    data_dir = Path(env.get("SAMHANDLING_DATA_DIR") or "var").resolve()
    database_url = env.get("SAMHANDLING_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'samhandling.db'}"
    ice_raw = env.get("SAMHANDLING_ICE_SERVERS") or "[]"
    try:
        ice = json.loads(ice_raw)
    except json.JSONDecodeError:
        raise SettingsError("SAMHANDLING_ICE_SERVERS must be a JSON list") from None
    if not isinstance(ice, list) or not all(isinstance(s, dict) and "urls" in s for s in ice):
        raise SettingsError("SAMHANDLING_ICE_SERVERS must be a JSON list of {urls, username?, credential?}")
    # Off unless asked for: anyone may log in as any demo employee in development mode, so a server started
    # without settings must not fall into it (scripts/demo and the tests ask for it explicitly).
    dev_mode = _bool(env, "SAMHANDLING_DEV_MODE", False)
    if not dev_mode and not env.get("SAMHANDLING_OIDC_ISSUER"):
        raise SettingsError(
            "SAMHANDLING_OIDC_ISSUER is required (or SAMHANDLING_DEV_MODE=true for a local demo, never in production)"
        )
    entra = _entra(env)
    return Settings(
        **entra,
        data_dir=data_dir,
        database_url=database_url,
        host=env.get("SAMHANDLING_HOST") or "127.0.0.1",
        port=_int(env, "SAMHANDLING_PORT", 8080, 0, 65535),
        public_url=env.get("SAMHANDLING_PUBLIC_URL") or "",
        dev_mode=dev_mode,
        session_secret=Secret(env.get("SAMHANDLING_SESSION_SECRET") or ""),
        ice_servers=tuple(ice),
        turn_urls=tuple(u.strip() for u in (env.get("SAMHANDLING_TURN_URLS") or "").split(",") if u.strip()),
        turn_secret=Secret(env.get("SAMHANDLING_TURN_SECRET") or ""),
        turn_ttl_s=_int(env, "SAMHANDLING_TURN_TTL_S", 6 * 3600, 60, 7 * 24 * 3600),
        ice_transport_policy=_policy(env.get("SAMHANDLING_ICE_TRANSPORT_POLICY") or "all"),
        ice_loopback=_bool(env, "SAMHANDLING_ICE_LOOPBACK", False),
        join_link_ttl_hours=_int(env, "SAMHANDLING_JOIN_LINK_TTL_HOURS", 72, 1, 24 * 90),
        max_participants=_int(env, "SAMHANDLING_MAX_PARTICIPANTS", 6, 2, 12),
        frame_deadline_ms=_int(env, "SAMHANDLING_FRAME_DEADLINE_MS", 150, 10, 2000),
        log_level=(env.get("SAMHANDLING_LOG_LEVEL") or "INFO").upper(),
        oidc_issuer=env.get("SAMHANDLING_OIDC_ISSUER") or "",
        oidc_client_id=env.get("SAMHANDLING_OIDC_CLIENT_ID") or "samhandling",
        oidc_client_secret=Secret(env.get("SAMHANDLING_OIDC_CLIENT_SECRET") or ""),
        oidc_client_jwk=_client_jwk(env),
        encode_once=_bool(env, "SAMHANDLING_ENCODE_ONCE", True),
        recordings_kek_file=env.get("SAMHANDLING_RECORDINGS_KEK_FILE") or "",
        recordings_retention_days=_int(env, "SAMHANDLING_RECORDINGS_RETENTION_DAYS", 30, 1, 3650),
        recordings_max_days=_int(env, "SAMHANDLING_RECORDINGS_MAX_DAYS", 90, 1, 3650),
        recordings_export=_bool(env, "SAMHANDLING_RECORDINGS_EXPORT", False),
        trusted_proxies=_proxies(env),
        oidc_acr_level=_acr_level(env),
        **_authorization(env),
        node_name=_node_name(env.get("SAMHANDLING_NODE_NAME") or socket.gethostname() or "local"),
    )


def _proxies(env: Mapping[str, str]) -> tuple[Network, ...]:
    try:
        return parse_trusted_proxies(env.get("SAMHANDLING_TRUSTED_PROXIES") or "")
    except ValueError:
        raise SettingsError("SAMHANDLING_TRUSTED_PROXIES must be a comma-separated list of addresses") from None


def _authorization(env: Mapping[str, str]) -> dict[str, Any]:
    provider = env.get("SAMHANDLING_AUTHORIZATION_PROVIDER") or "database"
    if provider not in ("database", "altinn"):
        raise SettingsError("SAMHANDLING_AUTHORIZATION_PROVIDER must be database or altinn")
    values: dict[str, Any] = {
        "authorization_provider": provider,
        "rights_check_interval_s": _int(env, "SAMHANDLING_RIGHTS_CHECK_INTERVAL_S", 60, 1, 3600),
        "rights_cache_s": _int(env, "SAMHANDLING_RIGHTS_CACHE_S", 30, 0, 600),
    }
    if provider == "altinn":
        for name in (
            "SAMHANDLING_ALTINN_PDP_URL",
            "SAMHANDLING_ALTINN_SUBSCRIPTION_KEY",
            "SAMHANDLING_ALTINN_TOKEN_FILE",
        ):
            if not env.get(name):
                raise SettingsError(f"{name} is required when SAMHANDLING_AUTHORIZATION_PROVIDER is altinn")
        values |= {
            "altinn_pdp_url": env["SAMHANDLING_ALTINN_PDP_URL"],
            "altinn_subscription_key": Secret(env["SAMHANDLING_ALTINN_SUBSCRIPTION_KEY"]),
            "altinn_token_file": env["SAMHANDLING_ALTINN_TOKEN_FILE"],
        }
        if env.get("SAMHANDLING_ALTINN_RESOURCE"):
            values["altinn_resource"] = env["SAMHANDLING_ALTINN_RESOURCE"]
    return values


def _client_jwk(env: Mapping[str, str]) -> Secret:
    raw = env.get("SAMHANDLING_OIDC_CLIENT_JWK") or ""
    if raw:
        from web.oidc import private_key_from_jwk

        try:
            private_key_from_jwk(raw)
        except ValueError:
            raise SettingsError("SAMHANDLING_OIDC_CLIENT_JWK must be a private RSA or P-256 JWK with a kid") from None
    return Secret(raw)


def _acr_level(env: Mapping[str, str]) -> str:
    from web.identity_providers import ProviderConfigError, idporten_level

    try:
        return idporten_level(env.get("SAMHANDLING_OIDC_ACR_LEVEL") or "substantial")
    except ProviderConfigError:
        raise SettingsError("SAMHANDLING_OIDC_ACR_LEVEL must be substantial or high") from None


def _entra(env: Mapping[str, str]) -> dict[str, Any]:
    """The Entra ID settings: all of issuer, client id, secret and centre, or none of them."""
    from web.identity_providers import ProviderConfigError, parse_group_roles

    issuer = env.get("SAMHANDLING_ENTRA_ISSUER") or ""
    if not issuer:
        return {}
    for name in (
        "SAMHANDLING_ENTRA_CLIENT_ID",
        "SAMHANDLING_ENTRA_CLIENT_SECRET",
        "SAMHANDLING_ENTRA_CENTRE_ORG_NUMBER",
    ):
        if not env.get(name):
            raise SettingsError(f"{name} is required when SAMHANDLING_ENTRA_ISSUER is set")
    groups = env.get("SAMHANDLING_ENTRA_GROUP_ROLES") or "{}"
    try:
        parse_group_roles(groups)
    except ProviderConfigError as exc:
        raise SettingsError(f"SAMHANDLING_ENTRA_GROUP_ROLES: {exc}") from None
    return {
        "entra_issuer": issuer,
        "entra_client_id": env["SAMHANDLING_ENTRA_CLIENT_ID"],
        "entra_client_secret": Secret(env["SAMHANDLING_ENTRA_CLIENT_SECRET"]),
        "entra_group_roles": groups,
        "entra_centre_org_number": env["SAMHANDLING_ENTRA_CENTRE_ORG_NUMBER"],
    }


def _node_name(raw: str) -> str:
    if not NODE_NAME.fullmatch(raw):
        raise SettingsError("SAMHANDLING_NODE_NAME must be 1-64 letters, digits, '.', '_' or '-'")
    return raw
