"""The signalling wire format: client messages parsed and validated into dataclasses, server messages built.

Sans-IO: nothing here touches a socket. Every limit is explicit so that a malformed or oversized message is
refused with a clear error and never reaches the media layer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 60_000


class ProtocolError(Exception):
    """A message that cannot be accepted; ``code`` is for clients, the message for people (bokmål)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Offer:
    sdp: str


@dataclass(frozen=True, slots=True)
class Enter:
    """Leave the preview and become visible to the others."""


@dataclass(frozen=True, slots=True)
class SetMedia:
    audio: bool
    video: bool


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    t: float


@dataclass(frozen=True, slots=True)
class Admit:
    participant: str


@dataclass(frozen=True, slots=True)
class Deny:
    participant: str


@dataclass(frozen=True, slots=True)
class LobbyMessage:
    text: str


@dataclass(frozen=True, slots=True)
class RosterAdd:
    role: str
    first_name: str


@dataclass(frozen=True, slots=True)
class RosterRemove:
    id: int


@dataclass(frozen=True, slots=True)
class RosterConfirm:
    pass


@dataclass(frozen=True, slots=True)
class Pause:
    participant: str
    paused: bool


@dataclass(frozen=True, slots=True)
class Chat:
    text: str


@dataclass(frozen=True, slots=True)
class GiveConsent:
    """Oral consent recorded by staff for ``participant``, or written consent given on one's own device."""

    participant: str
    giver: str
    form: str
    scopes: tuple[str, ...]
    purpose: str
    """One of ``privacy.consent.PURPOSES``."""
    face_visible_minutes: int | None
    note: str = ""
    """A short note beside the purpose (checked for identity numbers like every free text)."""


@dataclass(frozen=True, slots=True)
class RecordStart:
    reason: str
    deadline_days: int | None


@dataclass(frozen=True, slots=True)
class RecordStop:
    pass


@dataclass(frozen=True, slots=True)
class WithdrawConsent:
    participant: str
    consent_id: str


ClientMessage = (
    Offer
    | Enter
    | SetMedia
    | Leave
    | Ping
    | Admit
    | Deny
    | LobbyMessage
    | RosterAdd
    | RosterRemove
    | RosterConfirm
    | Pause
    | Chat
    | GiveConsent
    | WithdrawConsent
    | RecordStart
    | RecordStop
)


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ProtocolError("invalid_field", f"Feltet «{key}» må være true eller false.")
    return value


def _offer(data: dict[str, Any]) -> Offer:
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise ProtocolError("invalid_field", "Feltet «sdp» må være en SDP-beskrivelse.")
    if len(sdp) > MAX_SDP_CHARS:
        raise ProtocolError("too_large", "SDP-beskrivelsen er for stor.")
    return Offer(sdp)


def _ping(data: dict[str, Any]) -> Ping:
    t = data.get("t", 0)
    if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
        raise ProtocolError("invalid_field", "Feltet «t» må være et tall.")
    return Ping(float(t))


def _str(data: dict[str, Any], key: str, max_len: int, *, required: bool = True) -> str:
    value = data.get(key, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise ProtocolError("invalid_field", f"Feltet «{key}» må være tekst.")
    if len(value) > max_len:
        raise ProtocolError("too_large", f"Feltet «{key}» kan ha høyst {max_len} tegn.")
    return value


def _pid(data: dict[str, Any]) -> str:
    return _str(data, "participant", 16)


def _int(data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError("invalid_field", f"Feltet «{key}» må være et heltall fra {low} til {high}.")
    return value


def _consent(data: dict[str, Any]) -> GiveConsent:
    scopes = data.get("scopes")
    if not isinstance(scopes, list) or not 1 <= len(scopes) <= 4 or not all(isinstance(x, str) for x in scopes):
        raise ProtocolError("invalid_field", "Feltet «scopes» må være en liste med 1–4 omfang.")
    minutes = data.get("face_visible_minutes")
    return GiveConsent(
        participant=_pid(data),
        giver=_str(data, "giver", 16),
        form=_str(data, "form", 16),
        scopes=tuple(scopes),
        purpose=_str(data, "purpose", 32),
        face_visible_minutes=None if minutes is None else _int(data, "face_visible_minutes", 1, 240),
        note=_str(data, "note", 200, required=False),
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], ClientMessage]] = {
    "offer": _offer,
    "enter": lambda _d: Enter(),
    "media": lambda d: SetMedia(audio=_bool(d, "audio"), video=_bool(d, "video")),
    "leave": lambda _d: Leave(),
    "ping": _ping,
    "admit": lambda d: Admit(_pid(d)),
    "deny": lambda d: Deny(_pid(d)),
    "lobby-message": lambda d: LobbyMessage(_str(d, "text", 280)),
    "roster-add": lambda d: RosterAdd(_str(d, "role", 32), _str(d, "first_name", 40, required=False)),
    "roster-remove": lambda d: RosterRemove(_int(d, "id", 1, 10_000)),
    "roster-confirm": lambda _d: RosterConfirm(),
    "pause": lambda d: Pause(_pid(d), _bool(d, "paused")),
    "chat": lambda d: Chat(_str(d, "text", 1000)),
    "consent": _consent,
    "consent-withdraw": lambda d: WithdrawConsent(_pid(d), _str(d, "consent_id", 64)),
    "record-start": lambda d: RecordStart(
        _str(d, "reason", 200), None if d.get("deadline_days") is None else _int(d, "deadline_days", 1, 3650)
    ),
    "record-stop": lambda _d: RecordStop(),
}


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Decode one WebSocket text message; ProtocolError says precisely what is wrong with it."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", "Meldingen er for stor.")
    if _nesting(raw) > MAX_DEPTH:
        raise ProtocolError("invalid_json", "Meldingen er nøstet for dypt.")
    try:
        data = json.loads(raw, parse_int=_small_int, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):  # JSONDecodeError is a ValueError
        raise ProtocolError("invalid_json", "Meldingen er ikke gyldig JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "Meldingen må være et JSON-objekt.")
    kind = data.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError("unknown_type", "Ukjent meldingstype.")
    try:
        return parser(data)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
        # A field of a type or size no parser expected: refused like any other bad field, never a crash.
        raise ProtocolError("invalid_field", "Meldingen har et felt med ugyldig verdi.") from None


MAX_DEPTH = 8
"""No client message nests deeper than this; deeper input is refused before it reaches the JSON parser."""


def _nesting(raw: str | bytes) -> int:
    """The deepest bracket nesting outside strings, found in one pass (cheap beside the 64 KiB limit)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _small_int(text: str) -> int:
    if len(text.lstrip("-")) > 15:
        raise ValueError("integer too large")
    return int(text)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
