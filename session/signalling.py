"""The signalling wire format: client messages parsed and validated into dataclasses, server messages built.

Sans-IO: nothing here touches a socket. Every limit is explicit so that a malformed or oversized message is
refused with a clear error and never reaches the media layer.
"""

from __future__ import annotations

import json
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


ClientMessage = Offer | Enter | SetMedia | Leave | Ping


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
    if not isinstance(t, int | float) or isinstance(t, bool):
        raise ProtocolError("invalid_field", "Feltet «t» må være et tall.")
    return Ping(float(t))


_PARSERS: dict[str, Callable[[dict[str, Any]], ClientMessage]] = {
    "offer": _offer,
    "enter": lambda _d: Enter(),
    "media": lambda d: SetMedia(audio=_bool(d, "audio"), video=_bool(d, "video")),
    "leave": lambda _d: Leave(),
    "ping": _ping,
}


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Decode one WebSocket text message; ProtocolError says precisely what is wrong with it."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", "Meldingen er for stor.")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProtocolError("invalid_json", "Meldingen er ikke gyldig JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "Meldingen må være et JSON-objekt.")
    kind = data.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError("unknown_type", "Ukjent meldingstype.")
    return parser(data)


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
