"""The wire form of a citizen's join link: signed claims around 256 random bits, and the keys behind it.

A link token reads ``<meeting>.<role>.<expires>.<nonce>.<mac>``: the meeting and role it is bound to, its
expiry (Unix seconds), 256 random bits, and an HMAC-SHA256 (first 128 bits) over all of it. The database keeps
only the SHA-256 of the whole token (``invitations.token_hash``), as before; the signature lets the server
refuse an altered link before looking anything up, and tell "altered" from "unknown" in the audit log.
Pure functions; no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from session.roles import Role

TOKEN_MAX = 200
_MAC_CHARS = 22  # 128 bits of base64url
_PART = {
    "meeting": re.compile(r"[A-Za-z0-9_-]{1,32}"),
    "expires": re.compile(r"[0-9]{1,12}"),
    "nonce": re.compile(r"[A-Za-z0-9_-]{43}"),
    "mac": re.compile(r"[A-Za-z0-9_-]{22}"),
}
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{43}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class LinkKeys:
    """Separate keys for link signatures, sealing, short codes and device bindings, from one server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the link secret must have at least 16 bytes")

        def derive(label: bytes) -> bytes:
            return hmac.new(secret, b"samhandling-links:" + label, hashlib.sha256).digest()

        self.mac = derive(b"mac")
        self.seal = derive(b"seal")
        self.code = derive(b"code")
        self.device = derive(b"device")

    def keyed_hash(self, key: bytes, value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class LinkClaims:
    meeting_id: str
    role: Role
    expires: int
    nonce: str


class BadLink(Exception):
    """The token is not one of ours: ``reason`` is ``malformed`` or ``altered`` (signature does not match)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mac(keys: LinkKeys, payload: str) -> str:
    digest = hmac.new(keys.mac, b"samhandling-link-v1\x00" + payload.encode(), hashlib.sha256).digest()
    return _b64(digest)[:_MAC_CHARS]


def sign_link(keys: LinkKeys, meeting_id: str, role: Role, expires: int) -> tuple[str, LinkClaims]:
    """A new token for this meeting, role and expiry, with fresh random bits."""
    claims = LinkClaims(meeting_id, role, expires, secrets.token_urlsafe(32))
    if not _PART["meeting"].fullmatch(meeting_id):
        raise ValueError("meeting id of unexpected form")
    payload = f"{meeting_id}.{role.value}.{expires}.{claims.nonce}"
    return f"{payload}.{_mac(keys, payload)}", claims


def parse_link(keys: LinkKeys, token: str) -> LinkClaims:
    """The claims of a token we signed; BadLink for anything else. Expiry is not checked here."""
    if not token or len(token) > TOKEN_MAX or not token.isascii():
        raise BadLink("malformed")
    parts = token.split(".")
    if len(parts) != 5:
        raise BadLink("malformed")
    meeting, role, expires, nonce, mac = parts
    for name, value in (("meeting", meeting), ("expires", expires), ("nonce", nonce), ("mac", mac)):
        if not _PART[name].fullmatch(value):
            raise BadLink("malformed")
    payload = token.rpartition(".")[0]
    if not hmac.compare_digest(mac, _mac(keys, payload)):
        raise BadLink("altered")
    try:
        parsed_role = Role(role)
    except ValueError:  # signed by us with a role this version no longer knows
        raise BadLink("malformed") from None
    return LinkClaims(meeting, parsed_role, int(expires), nonce)


def token_hash(token: str) -> str:
    """What ``invitations.token_hash`` holds (the same function as ``session.meetings.token_hash``)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_device_id() -> str:
    """A random device id for the device-binding cookie (256 bits)."""
    return secrets.token_urlsafe(32)


def valid_device_id(value: str | None) -> bool:
    return value is not None and DEVICE_ID.fullmatch(value) is not None
