"""One frozen settings object read from the environment, with defaults for the embedded mode.

Secrets are wrapped in :class:`Secret` so that printing the settings (or a traceback) never shows them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from session.turn_credentials import ice_servers as turn_ice_servers


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
    """Enables the built-in development identity provider with the demo staff. Never in production."""
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
    """A frame not checked by the privacy core within this time is replaced by a fully obscured frame."""
    log_level: str = "INFO"
    oidc_issuer: str = ""
    """Staff login (e.g. ID-porten). Empty in development mode: the built-in development provider is used."""
    oidc_client_id: str = "samhandling"
    oidc_client_secret: Secret = Secret("")
    encode_once: bool = True
    """Encode each processed video stream once for all receivers (VP8)."""
    recordings_kek_file: str = ""
    """Key-encryption key for recordings, kept outside the data directory; recording is off without one."""
    recordings_retention_days: int = 30
    recordings_max_days: int = 90
    recordings_export: bool = False

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def ice_servers_now(self, now: float) -> list[dict[str, object]]:
        """``ice_servers`` plus a fresh time-limited TURN credential (one per peer connection, browser or server)."""
        return turn_ice_servers(self.ice_servers, self.turn_urls, self.turn_secret.value, self.turn_ttl_s, now)

    @property
    def oidc_redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"


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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``SAMHANDLING_*`` variables; anything unset falls back to the embedded default."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("SAMHANDLING_DATA_DIR") or "var").resolve()
    database_url = env.get("SAMHANDLING_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'samhandling.db'}"
    ice_raw = env.get("SAMHANDLING_ICE_SERVERS") or "[]"
    try:
        ice = json.loads(ice_raw)
    except json.JSONDecodeError:
        raise SettingsError("SAMHANDLING_ICE_SERVERS must be a JSON list") from None
    if not isinstance(ice, list) or not all(isinstance(s, dict) and "urls" in s for s in ice):
        raise SettingsError("SAMHANDLING_ICE_SERVERS must be a JSON list of {urls, username?, credential?}")
    dev_mode = _bool(env, "SAMHANDLING_DEV_MODE", True)
    if not dev_mode and not env.get("SAMHANDLING_OIDC_ISSUER"):
        raise SettingsError("SAMHANDLING_OIDC_ISSUER is required when SAMHANDLING_DEV_MODE is false")
    return Settings(
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
        encode_once=_bool(env, "SAMHANDLING_ENCODE_ONCE", True),
        recordings_kek_file=env.get("SAMHANDLING_RECORDINGS_KEK_FILE") or "",
        recordings_retention_days=_int(env, "SAMHANDLING_RECORDINGS_RETENTION_DAYS", 30, 1, 3650),
        recordings_max_days=_int(env, "SAMHANDLING_RECORDINGS_MAX_DAYS", 90, 1, 3650),
        recordings_export=_bool(env, "SAMHANDLING_RECORDINGS_EXPORT", False),
    )
