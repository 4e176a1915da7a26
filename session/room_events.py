"""Which room event a parsed signalling message is: the one dispatch every in-call message goes through.

Pure, like the room: the WebSocket handler calls :func:`room_event` for everything that is the room's to
decide, and handles only media negotiation, pings and the consent ledger itself. A check of who may send
what belongs in front of this dispatch, so there is one place to put it.
"""

from __future__ import annotations

from session.room import Effect, Room
from session.signalling import (
    Admit,
    AudioOnly,
    Chat,
    ClientMessage,
    Deny,
    Enter,
    LobbyMessage,
    Pause,
    RecordStart,
    RecordStop,
    RosterAdd,
    RosterConfirm,
    RosterRemove,
    SetMedia,
    Sync,
)


def room_event(room: Room, pid: str, msg: ClientMessage) -> list[Effect] | None:
    """The effects of ``msg`` from ``pid``; None when the message is not the room's (offer, ping, consent,
    leave). Refusals raise (NotAllowed, RosterInvalid, IdentityNumberRefused) before anything changes."""
    if isinstance(msg, Sync):
        return room.resend_view(pid)
    if isinstance(msg, Enter):
        return room.request_entry(pid)
    if isinstance(msg, SetMedia):
        return room.set_media(pid, msg.audio, msg.video)
    if isinstance(msg, AudioOnly):
        return room.set_audio_only(pid, msg.on)
    if isinstance(msg, Admit):
        return room.admit(pid, msg.participant)
    if isinstance(msg, Deny):
        return room.deny(pid, msg.participant)
    if isinstance(msg, LobbyMessage):
        return room.lobby_message(pid, msg.text)
    if isinstance(msg, RosterAdd):
        return room.add_off_camera(pid, msg.role, msg.first_name)
    if isinstance(msg, RosterRemove):
        return room.remove_off_camera(pid, msg.id)
    if isinstance(msg, RosterConfirm):
        return room.confirm_roster(pid)
    if isinstance(msg, Pause):
        return room.set_paused(pid, msg.participant, msg.paused)
    if isinstance(msg, Chat):
        return room.chat(pid, msg.text)
    if isinstance(msg, RecordStart):
        return room.start_recording(pid, msg.reason, msg.deadline_days)
    if isinstance(msg, RecordStop):
        return room.stop_recording(pid)
    return None
