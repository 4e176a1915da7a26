"""The signalling wire format: client messages parsed and validated into dataclasses, server messages built.

Sans-IO: nothing here touches a socket. Every limit is explicit so that a malformed or oversized message is
refused with a clear error and never reaches the media layer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from privacy.user_text import Text

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 60_000
MAX_DEPTH = 4
"""No message nests deeper than an object holding a list; deeper JSON is refused before it is decoded."""
MAX_NUMBER_CHARS = 20
"""Longer number literals are refused: Python would otherwise spend time on (or refuse) huge integers."""


class ProtocolError(Exception):
    """A message that cannot be accepted; ``code`` is for clients, ``text`` the message for people by catalogue
    key (the socket says it in the participant's language).

    ``kind`` is the message type when it could be read and ``field`` the offending field, so that the client
    shows the refusal next to the form that sent it."""

    def __init__(self, code: str, text: Text, field: str | None = None) -> None:
        super().__init__(str(text))
        self.code = code
        self.text = text
        self.field = field
        self.kind: str | None = None


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
class AudioOnly:
    """«Bare lyd»: no video to or from this participant until they turn it off."""

    on: bool


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Sync:
    """The client missed a view (a gap in ``seq``) and asks for its whole view again."""


@dataclass(frozen=True, slots=True)
class IceRefresh:
    """Fresh ICE servers before a reconnection: TURN credentials expire (coturn checks them per allocation)."""


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
    """One of ``privacy.records.consent.PURPOSES``."""
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


RoomMessage = (
    Sync
    | Enter
    | SetMedia
    | AudioOnly
    | Admit
    | Deny
    | LobbyMessage
    | RosterAdd
    | RosterRemove
    | RosterConfirm
    | Pause
    | Chat
    | RecordStart
    | RecordStop
)
"""The client messages that are the room's to decide (``session.call.room_events``); the rest are the WebSocket
handler's (media negotiation, pings, leaving, the consent ledger)."""

ClientMessage = Offer | Leave | Ping | IceRefresh | GiveConsent | WithdrawConsent | RoomMessage


class EndReason(StrEnum):
    """Why the server ended a participant's connection: the ``reason`` of the ``ended`` message."""

    DENIED = "denied"
    """The host turned them away from the lobby."""
    REPLACED = "replaced"
    """The same link connected again from another device or tab (one device at a time per link)."""
    LINK_REVOKED = "link_revoked"
    """Staff withdrew the link, or freed it from the device it was bound to."""
    ACCESS_REVOKED = "access_revoked"
    """A staff member's right to the meeting was removed (or their login ended)."""
    SERVER_SHUTDOWN = "server_shutdown"
    """This process is draining; the link works again on another node."""


def ended(reason: EndReason) -> dict[str, str]:
    """The last message a participant's socket gets before the server closes it."""
    return {"type": "ended", "reason": reason.value}


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ProtocolError("invalid_field", Text("err.proto.bool", field=key), key)
    return value


def _offer(data: dict[str, Any]) -> Offer:
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise ProtocolError("invalid_field", Text("err.proto.sdp"), "sdp")
    if len(sdp) > MAX_SDP_CHARS:
        raise ProtocolError("too_large", Text("err.proto.sdp_too_large"), "sdp")
    return Offer(sdp)


def _ping(data: dict[str, Any]) -> Ping:
    t = data.get("t", 0)
    if not isinstance(t, int | float) or isinstance(t, bool):
        raise ProtocolError("invalid_field", Text("err.proto.number", field="t"), "t")
    return Ping(float(t))


def _str(data: dict[str, Any], key: str, max_len: int, *, required: bool = True) -> str:
    value = data.get(key, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise ProtocolError("invalid_field", Text("err.proto.text", field=key), key)
    if len(value) > max_len:
        raise ProtocolError("too_large", Text("err.proto.text_too_long", field=key, max=max_len), key)
    if any(_unsafe_char(c) for c in value):
        raise ProtocolError("invalid_text", Text("err.proto.text_chars", field=key), key)
    return value


def _unsafe_char(c: str) -> bool:
    """Control characters (other than line break and tab) and lone surrogates, which no store can encode."""
    code = ord(c)
    return (code < 32 and c not in "\n\t") or code == 127 or 0xD800 <= code <= 0xDFFF


def _pid(data: dict[str, Any]) -> str:
    return _str(data, "participant", 16)


def _int(data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError("invalid_field", Text("err.proto.int", field=key, low=low, high=high), key)
    return value


def _consent(data: dict[str, Any]) -> GiveConsent:
    scopes = data.get("scopes")
    if not isinstance(scopes, list) or not 1 <= len(scopes) <= 4 or not all(isinstance(x, str) for x in scopes):
        raise ProtocolError("invalid_field", Text("err.proto.scopes"), "scopes")
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
    "audio-only": lambda d: AudioOnly(_bool(d, "on")),
    "leave": lambda _d: Leave(),
    "ping": _ping,
    "ice-refresh": lambda _d: IceRefresh(),
    "sync": lambda _d: Sync(),
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
_TYPES: dict[type, str] = {
    Offer: "offer",
    Enter: "enter",
    SetMedia: "media",
    AudioOnly: "audio-only",
    Leave: "leave",
    Ping: "ping",
    IceRefresh: "ice-refresh",
    Sync: "sync",
    Admit: "admit",
    Deny: "deny",
    LobbyMessage: "lobby-message",
    RosterAdd: "roster-add",
    RosterRemove: "roster-remove",
    RosterConfirm: "roster-confirm",
    Pause: "pause",
    Chat: "chat",
    GiveConsent: "consent",
    WithdrawConsent: "consent-withdraw",
    RecordStart: "record-start",
    RecordStop: "record-stop",
}


def message_type(msg: ClientMessage) -> str:
    """The wire name of a parsed message (the ``type`` it was sent with)."""
    return _TYPES[type(msg)]


def _number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ProtocolError("too_large", Text("err.proto.number_too_long"))
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError("invalid_json", Text("err.proto.json"))
    return value


def _constant(_name: str) -> float:
    raise ProtocolError("invalid_json", Text("err.proto.json"))  # NaN and Infinity are not JSON


def _too_deep(text: str) -> bool:
    """Nesting deeper than MAX_DEPTH, counted outside strings, so the decoder never recurses on a hostile message."""
    depth, in_string, escaped = 0, False, False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif c in "]}":
            depth -= 1
    return False


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Decode one WebSocket text message; ProtocolError says precisely what is wrong with it.

    Nothing else can escape: depth, number length and constants are checked so that no input makes the
    decoder recurse, build a huge integer or yield a value that cannot be sent back as JSON."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", Text("err.proto.too_large"))
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if _too_deep(text):
            raise ProtocolError("invalid_message", Text("err.proto.too_deep"))
        data = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProtocolError("invalid_json", Text("err.proto.json")) from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", Text("err.proto.object"))
    kind = data.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError("unknown_type", Text("err.proto.unknown_type"))
    try:
        return parser(data)
    except ProtocolError as exc:
        exc.kind = kind
        raise
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
        # A field of a type or size no parser expected: refused like any other bad field, never a crash.
        raise ProtocolError("invalid_field", Text("err.proto.bad_value")) from None


def error(
    code: str, message: str, *, kind: str | None = None, field: str | None = None, lang: str | None = None
) -> dict[str, Any]:
    """An inline refusal: ``for`` names the request type it answers, ``field`` the field to show it beside,
    ``lang`` the language ``message`` is written in."""
    msg: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if lang is not None:
        msg["lang"] = lang
    if kind is not None:
        msg["for"] = kind
    if field is not None:
        msg["field"] = field
    return msg
