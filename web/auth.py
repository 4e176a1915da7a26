"""Staff sessions: a signed cookie naming the staff member, and CSRF tokens bound to that session.

The cookie is HttpOnly, SameSite=Lax and Secure whenever the public address is https. It carries the staff id,
the staff member's session generation (bumped when a right is removed or they log out everywhere, which kills
every cookie issued before), an expiry and a random session nonce, signed with HMAC-SHA256; the CSRF token of a
session is an HMAC of its nonce, checked on every state-changing form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from privacy.records.keys import KeyFileError, read_owner_only

COOKIE = "samhandling_staff"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True, slots=True)
class StaffSession:
    staff_id: int
    generation: int
    nonce: str
    expires: int


def load_or_create_secret(data_dir: Path, given: str) -> bytes:
    """The configured secret, or one generated on first start and kept owner-only in the data directory.

    The file is the root of every HMAC and cookie key, so it is created with ``O_EXCL`` at mode 0600 (no window
    in which the umask decides) and refused when it is a symlink or readable by group or others.
    """
    if given:
        return given.encode()
    path = data_dir / "session.key"
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
            handle.flush()
            os.fsync(handle.fileno())
    try:
        secret = read_owner_only(path, what="Sesjonsnøkkelen (session.key)", max_bytes=4096)
    except KeyFileError as exc:
        raise SessionKeyError(str(exc)) from exc
    if len(secret) < 32:
        raise SessionKeyError("Sesjonsnøkkelen (session.key) er for kort.")
    return secret


class SessionKeyError(Exception):
    """``session.key`` must not be used (symlink, readable by others, too short); the server refuses to start."""


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"samhandling-session:" + secret).digest()

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, staff_id: int, generation: int, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
        payload = f"{staff_id}.{generation}.{expires}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._mac(payload)}"

    def read(self, cookie: str | None, now: float | None = None) -> StaffSession | None:
        if not cookie or len(cookie) > 200:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            staff_id, generation, expires, nonce = payload.split(".", 3)
            session = StaffSession(int(staff_id), int(generation), nonce, int(expires))
        except ValueError:
            return None
        if session.expires < (now if now is not None else time.time()):
            return None
        return session

    def sign_value(self, value: str) -> str:
        """A MAC for another short-lived cookie of this server (domain-separated from sessions)."""
        return self._mac("value:" + value)

    def csrf_token(self, session: StaffSession) -> str:
        return self._mac("csrf:" + session.nonce)

    def check_csrf(self, session: StaffSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token or "", self.csrf_token(session))
