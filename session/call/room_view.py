"""What each participant sees of the live meeting, derived from the room state and nothing else.

A client never builds its picture of the meeting from a history of events: after every event that changes
what someone may see, they receive their whole view (``state``), numbered twice. ``v`` is the room's version,
raised whenever the meeting's state changes; ``seq`` counts the views sent to this participant, so a client
that sees a number skipped knows it missed one and asks for a fresh copy (``sync``). A late joiner and a
participant who reloads start from the same full view as everyone else.

Pure: these functions read a :class:`~session.call.room.Room` and return dictionaries; nothing here sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from session.roles import Role

if TYPE_CHECKING:
    from session.call.room import Participant, Room


def _consent(room: Room, p: Participant) -> list[str] | None:
    """The user's active consent scopes (kept per join link); other roles give no consent."""
    if p.role is not Role.BRUKER:
        return None
    return sorted(room.consents.get(p.invitation_id, frozenset()))


def _person(room: Room, p: Participant) -> dict[str, Any]:
    return {
        **p.public(),
        "gate": p.gates[0].value if p.gates is not None else None,
        "consent": _consent(room, p),
    }


def meeting_state(room: Room) -> dict[str, Any]:
    """The whole live meeting as the server holds it: what every view is cut from."""
    return {
        "participants": {
            p.id: {**_person(room, p), "stage": p.stage.value, "slots": dict(sorted(p.slots.items()))}
            for p in room.participants.values()
            if not p.check_only
        },
        "roster_confirmed": room.roster_confirmed,
        "off_camera": [e.public() for e in room.off_camera.entries.values()],
        "consents": {str(k): sorted(v) for k, v in sorted(room.consents.items())},
        "recording": room.recording,
        "reconnecting": sorted(room.reconnecting.values()),
    }


def view_for(room: Room, p: Participant) -> dict[str, Any]:
    """What ``p`` may see now. People in the preview or the lobby see only themselves and whether a host is
    there; those in the call see everyone in it, the roster, consent per user, gates, pause and recording;
    a host also sees who waits in the lobby."""
    me = {**_person(room, p), "stage": p.stage.value}
    view: dict[str, Any] = {
        "me": me,
        "hosts_present": bool(room.hosts()),
        "recording": room.recording,
    }
    if not p.in_call:
        return view
    view["roster"] = {
        "confirmed": room.roster_confirmed,
        "participants": [_person(room, q) for q in room.in_call()],
        "off_camera": [e.public() for e in room.off_camera.entries.values()],
        "reconnecting": sorted(room.reconnecting.values()),
    }
    if p.host:
        view["lobby"] = [{"id": q.id, "role": q.role.value} for q in room.participants.values() if q.in_lobby]
    return view


def state_message(room: Room, p: Participant, view: dict[str, Any]) -> dict[str, Any]:
    return {"type": "state", "v": room.version, "seq": p.view_seq, **view}
