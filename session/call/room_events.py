"""Which room event a parsed signalling message is: the one dispatch every in-call message goes through.

Pure, like the room: the WebSocket handler calls :func:`room_event` for everything that is the room's to
decide (:data:`session.call.signalling.RoomMessage`), and handles only media negotiation, pings, leaving and the
consent ledger itself. Both dispatches are exhaustive (``match`` + ``assert_never``), so mypy refuses a new message type
that neither handles. A check of who may send what belongs in front of this dispatch, so there is one place
to put it.
"""

from __future__ import annotations

from typing import assert_never

from session.call.room import Effect, Room
from session.call.signalling import (
    Admit,
    AudioOnly,
    Chat,
    Deny,
    Enter,
    LobbyMessage,
    Pause,
    RecordStart,
    RecordStop,
    RoomMessage,
    RosterAdd,
    RosterConfirm,
    RosterRemove,
    SetMedia,
    Sync,
)


def room_event(room: Room, pid: str, msg: RoomMessage) -> list[Effect]:
    """The effects of ``msg`` from ``pid``. Refusals raise (NotAllowed, RosterInvalid, IdentityNumberRefused)
    before anything changes."""
    match msg:
        case Sync():
            return room.resend_view(pid)
        case Enter():
            return room.request_entry(pid)
        case SetMedia():
            return room.set_media(pid, msg.audio, msg.video)
        case AudioOnly():
            return room.set_audio_only(pid, msg.on)
        case Admit():
            return room.admit(pid, msg.participant)
        case Deny():
            return room.deny(pid, msg.participant)
        case LobbyMessage():
            return room.lobby_message(pid, msg.text)
        case RosterAdd():
            return room.add_off_camera(pid, msg.role, msg.first_name)
        case RosterRemove():
            return room.remove_off_camera(pid, msg.id)
        case RosterConfirm():
            return room.confirm_roster(pid)
        case Pause():
            return room.set_paused(pid, msg.participant, msg.paused)
        case Chat():
            return room.chat(pid, msg.text)
        case RecordStart():
            return room.start_recording(pid, msg.reason, msg.deadline_days)
        case RecordStop():
            return room.stop_recording(pid)
        case _:
            assert_never(msg)
