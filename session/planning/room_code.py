"""Short numeric room code + PIN: the alternative way into a meeting when the link cannot be used.

The invitation carries an 8-digit room code and a 6-digit PIN, to be typed on the fallback address (a phone
keypad is enough). Both come from ``secrets``. Only a salted scrypt hash of the PIN is stored, bound to its room
code, so that the database alone does not let anyone in; a short PIN is still guessable offline from a stolen
hash, so a server-side ``pepper`` (kept outside the database) is mixed in, and online guessing is slowed per
room code and per client (exponential back-off; the arithmetic is in THREAT_MODEL.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

ROOM_CODE_DIGITS = 8
PIN_DIGITS = 6
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class RoomCredentials:
    """A room code and its PIN, shown once in the invitation. The PIN is kept out of ``repr``."""

    code: str
    pin: str = field(repr=False)

    @property
    def display_code(self) -> str:
        return format_room_code(self.code)


def new_room_credentials() -> RoomCredentials:
    code = f"{secrets.randbelow(10**ROOM_CODE_DIGITS):0{ROOM_CODE_DIGITS}d}"
    pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
    return RoomCredentials(code, pin)


def format_room_code(code: str) -> str:
    """ "1234 5678": groups of four are easier to read aloud and type."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _digits(value: str, length: int) -> str | None:
    compact = "".join(ch for ch in value if ch not in " -\u00a0")
    if len(compact) != length or not compact.isascii() or not compact.isdigit():
        return None
    return compact


def normalize_room_code(value: str) -> str | None:
    """The code typed by a person (spaces and hyphens allowed), or None when it cannot be a room code."""
    return _digits(value, ROOM_CODE_DIGITS)


def normalize_pin(value: str) -> str | None:
    return _digits(value, PIN_DIGITS)


def _derive(code: str, pin: str, salt: bytes, pepper: bytes) -> bytes:
    secret = hmac.new(pepper, f"{code}:{pin}".encode(), hashlib.sha256).digest() if pepper else f"{code}:{pin}".encode()
    return hashlib.scrypt(secret, salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)


def hash_pin(code: str, pin: str, *, pepper: bytes = b"") -> str:
    """ "scrypt$<salt hex>$<hash hex>" of the PIN bound to its room code (the same PIN of another room differs)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return f"scrypt${salt.hex()}${_derive(code, pin, salt, pepper).hex()}"


def pin_matches(code: str, pin: str, stored: str, *, pepper: bytes = b"") -> bool:
    """Whether ``pin`` is the PIN of ``code`` according to ``stored``; compared in constant time."""
    try:
        scheme, salt_hex, hash_hex = stored.split("$")
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(_derive(code, pin, salt, pepper), expected)
