"""Time-limited TURN credentials, the scheme coturn calls ``use-auth-secret`` (the "TURN REST API").

The TURN server and this service share one secret; neither keeps a user list. A credential is minted per
connection: username ``"<expiry unix time>:<id>"``, password ``base64(HMAC-SHA1(secret, username))``. coturn
recomputes the password from the username and refuses it once the expiry has passed, so a credential that
leaks from a browser is worth nothing after its time-to-live. ``id`` is an opaque per-connection value, never a
person's name (coturn logs usernames).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence


def turn_credential(secret: str, ttl_s: int, now: float, ident: str) -> tuple[str, str]:
    """(username, password) valid until ``now + ttl_s``."""
    if ":" in ident:
        raise ValueError("the id must not contain ':'")
    username = f"{int(now) + ttl_s}:{ident}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    static: Sequence[Mapping[str, object]],
    turn_urls: Sequence[str],
    secret: str,
    ttl_s: int,
    now: float,
    ident: str | None = None,
) -> list[dict[str, object]]:
    """The configured STUN/TURN servers plus, when TURN is configured, one entry with a fresh credential."""
    servers = [dict(s) for s in static]
    if turn_urls and secret:
        username, password = turn_credential(secret, ttl_s, now, ident or secrets.token_hex(8))
        servers.append({"urls": list(turn_urls), "username": username, "credential": password})
    return servers
