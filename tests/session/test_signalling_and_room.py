"""The sans-IO parts of a call: message parsing with its limits, and the room state machine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from session.call.room import Attach, Audit, Close, Detach, NotAllowed, Revoke, Room, Send, SetGates, VideoGate
from session.call.roster import RosterInvalid
from session.call.signalling import (
    MAX_MESSAGE_BYTES,
    EndReason,
    Enter,
    Offer,
    Ping,
    ProtocolError,
    SetMedia,
    parse_client_message,
)
from session.errors import MeetingFull
from session.roles import Role
from web.i18n import LANGUAGES, say


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"no": "type"}', "unknown_type"),
        ('{"type": "offer", "sdp": 5}', "invalid_field"),
        ('{"type": "offer", "sdp": "hello"}', "invalid_field"),
        ('{"type": "media", "audio": "yes", "video": true}', "invalid_field"),
        ('{"type": "ping", "t": true}', "invalid_field"),
        ('{"type": "offer", "sdp": "v=0' + "x" * 70_000 + '"}', "too_large"),
        ('{"type": "ping", "t": ' + "[" * 5000 + "]" * 5000 + "}", "invalid_message"),  # never recursed into
        ('{"type": "ping", "t": ' + "9" * 5000 + "}", "too_large"),  # no huge integers are built
        ('{"type": "ping", "t": NaN}', "invalid_json"),
        ('{"type": "ping", "t": 1e400}', "invalid_json"),
        ('{"type": "chat", "text": "\\ud800"}', "invalid_text"),  # a lone surrogate no database can store
        ('{"type": "chat", "text": "a\\u0007b"}', "invalid_text"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == code
    for lang in LANGUAGES:  # a sentence for people, in the participant's language
        said = say(lang, info.value.text)
        assert said and said != info.value.text.key and "{" not in said


def test_an_sdp_too_large_for_its_field_but_within_the_message_limit() -> None:
    raw = json.dumps({"type": "offer", "sdp": "v=0" + "a" * 61_000})
    assert len(raw) < MAX_MESSAGE_BYTES
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == "too_large"


def test_good_messages_become_dataclasses() -> None:
    assert parse_client_message('{"type": "offer", "sdp": "v=0\\r\\n"}') == Offer("v=0\r\n")
    assert parse_client_message('{"type": "enter"}') == Enter()
    assert parse_client_message('{"type": "media", "audio": false, "video": true}') == SetMedia(False, True)
    assert parse_client_message('{"type": "ping", "t": 12.5}') == Ping(12.5)


def sends_to(effects: Sequence[object], pid: str) -> list[dict[str, object]]:
    """Event messages to ``pid``; the full views (``state``) are tested in test_room_views."""
    return [e.message for e in effects if isinstance(e, Send) and e.to == pid and e.message["type"] != "state"]


def views_to(effects: Sequence[object], pid: str) -> list[dict[str, Any]]:
    return [e.message for e in effects if isinstance(e, Send) and e.to == pid and e.message["type"] == "state"]


def gates(effects: Sequence[object]) -> dict[str, tuple[VideoGate, bool]]:
    return {e.participant: (e.video, e.audio) for e in effects if isinstance(e, SetGates)}


def meeting_with(*guests: tuple[str, Role], confirmed: bool = True, slots: int = 3) -> Room:
    """A room where host "h" is in the call and each guest has been admitted."""
    room = Room("m1", slot_count=slots)
    room.connect("h", Role.FORMIDLER, 1, host=True, staff_id=1)
    room.request_entry("h")
    for n, (pid, role) in enumerate(guests, start=2):
        room.connect(pid, role, n, host=False)
        room.request_entry(pid)
        room.admit("h", pid)
    if confirmed:
        room.confirm_roster("h")
    return room


def test_preview_is_private_and_guests_wait_in_the_lobby() -> None:
    room = Room("m1", slot_count=2)
    effects = room.connect("h", Role.FORMIDLER, 1, host=True, staff_id=1)
    assert gates(effects) == {"h": (VideoGate.ROSTER, True)}  # closed from the first frame
    room.connect("b", Role.BRUKER, 2, host=False)
    assert sends_to(room.request_entry("h"), "h")[0]["type"] == "entered"
    effects = room.request_entry("b")
    assert sends_to(effects, "b") == [{"type": "lobby", "hosts_present": True}]
    assert sends_to(effects, "h") == [{"type": "lobby-list", "waiting": [{"id": "b", "role": "bruker"}]}]
    assert not any(isinstance(e, Attach) for e in effects)  # nobody sees someone waiting in the lobby


def test_admit_shows_each_to_the_other_and_is_audited() -> None:
    room = Room("m1", slot_count=2)
    room.connect("h", Role.FORMIDLER, 1, host=True, staff_id=1)
    room.request_entry("h")
    room.connect("r", Role.RADGIVER, 2, host=False)
    room.request_entry("r")
    effects = room.admit("h", "r")
    assert Attach("h", 0, "r") in effects and Attach("r", 0, "h") in effects
    assert {"type": "slot", "slot": 0, "participant": "r", "role": "radgiver"} in sends_to(effects, "h")
    assert Audit("lobby.admit", "formidler", {"participant_role": "radgiver"}) in effects


def test_deny_revokes_the_link_and_only_the_host_may() -> None:
    room = Room("m1", slot_count=2)
    room.connect("h", Role.FORMIDLER, 1, host=True, staff_id=1)
    room.request_entry("h")
    room.connect("p", Role.PARORENDE, 7, host=False)
    room.request_entry("p")
    room.connect("x", Role.LEVERANDOR, 8, host=False)
    with pytest.raises(NotAllowed):
        room.deny("x", "p")
    effects = room.deny("h", "p")
    assert Revoke(7, 1) in effects and Close("p", EndReason.DENIED) in effects
    assert "p" not in room.participants


def test_lobby_message_reaches_only_those_waiting() -> None:
    room = Room("m1", slot_count=3)
    room.connect("h", Role.FORMIDLER, 1, host=True, staff_id=1)
    room.request_entry("h")
    room.connect("w", Role.BRUKER, 2, host=False)
    room.request_entry("w")
    room.connect("v", Role.PARORENDE, 3, host=False)  # still in preview
    effects = room.lobby_message("h", "  Vi starter om  fem minutter ")
    assert [e for e in effects if not (isinstance(e, Send) and e.message["type"] == "state")] == [
        Send("w", {"type": "lobby-message", "text": "Vi starter om fem minutter"}),
        Send("h", {"type": "lobby-message-sent"}),
    ]
    with pytest.raises(NotAllowed):
        room.lobby_message("w", "hei")


def test_video_waits_for_the_roster_and_a_users_consent() -> None:
    room = meeting_with(("b", Role.BRUKER), ("r", Role.RADGIVER), confirmed=False)
    assert room.gates_for(room.participants["r"]) == (VideoGate.ROSTER, True)
    assert room.gates_for(room.participants["b"]) == (VideoGate.CONSENT, False)
    effects = room.confirm_roster("h")
    assert gates(effects) == {"h": (VideoGate.OPEN, True), "r": (VideoGate.OPEN, True)}
    effects = room.set_consent_scopes(2, frozenset({"video", "audio"}))
    assert gates(effects) == {"b": (VideoGate.OPEN, True)}
    effects = room.set_consent_scopes(2, frozenset({"audio"}))  # video withdrawn
    assert gates(effects) == {"b": (VideoGate.CONSENT, True)}
    effects = room.set_consent_scopes(2, frozenset({"video", "audio", "face_visible"}), ENDS)
    assert gates(effects) == {"b": (VideoGate.FACE_VISIBLE, True)}


ENDS = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
"""The end of a face-visible exception, as the consent ledger gives it."""


def test_the_face_visible_gate_carries_its_end_and_is_never_granted_without_one() -> None:
    room = meeting_with(("b", Role.BRUKER))
    effects = room.set_consent_scopes(2, frozenset({"video", "audio", "face_visible"}))  # no end: anonymized
    assert gates(effects) == {"b": (VideoGate.OPEN, True)}
    assert not [e for e in effects if isinstance(e, Audit)]
    effects = room.set_consent_scopes(2, frozenset({"video", "audio", "face_visible"}), ENDS)
    assert [e for e in effects if isinstance(e, SetGates)] == [SetGates("b", VideoGate.FACE_VISIBLE, True, ENDS)]
    later = ENDS + timedelta(minutes=10)  # a new consent extends the period: the gate is set again, not audited
    effects = room.set_consent_scopes(2, frozenset({"video", "audio", "face_visible"}), later)
    assert [e for e in effects if isinstance(e, SetGates)] == [SetGates("b", VideoGate.FACE_VISIBLE, True, later)]
    assert not [e for e in effects if isinstance(e, Audit)]
    effects = room.set_consent_scopes(2, frozenset({"video", "audio"}), later)  # an end without the scope: none
    assert [e for e in effects if isinstance(e, SetGates)] == [SetGates("b", VideoGate.OPEN, True, None)]


def test_pause_by_the_user_or_staff_and_not_by_others() -> None:
    room = meeting_with(("b", Role.BRUKER), ("l", Role.LEVERANDOR))
    room.set_consent_scopes(2, frozenset({"video", "audio"}))
    with pytest.raises(NotAllowed):
        room.set_paused("l", "b", True)
    effects = room.set_paused("h", "b", True)
    assert gates(effects) == {"b": (VideoGate.PAUSE, True)}
    assert {"type": "paused", "participant": "b", "role": "bruker", "paused": True} in sends_to(effects, "l")
    assert Audit("pause", "formidler", {"participant_role": "bruker", "by_self": False}) in effects
    effects = room.set_paused("b", "b", False)
    assert gates(effects) == {"b": (VideoGate.OPEN, True)}
    # a pause outranks consent changes that arrive meanwhile
    room.set_paused("b", "b", True)
    assert gates(room.set_consent_scopes(2, frozenset({"video", "audio", "face_visible"}), ENDS)) == {}


def test_roster_lists_people_off_camera_with_roles_only_in_the_audit() -> None:
    room = meeting_with(("b", Role.BRUKER))
    effects = room.add_off_camera("h", "parorende", "Ola")
    roster = sends_to(effects, "b")[0]
    assert roster["off_camera"] == [{"id": 1, "role": "parorende", "first_name": "Ola", "added_by": "h"}]
    assert Audit("roster.change", "formidler", {"change": "added", "role": "parorende"}) in effects
    with pytest.raises(NotAllowed):  # the roster is kept by staff; the citizen tells them who is there
        room.add_off_camera("b", "parorende", "Kari")
    with pytest.raises(RosterInvalid):
        room.add_off_camera("h", "parorende", "12345678901")
    with pytest.raises(RosterInvalid):
        room.add_off_camera("h", "astronaut", "")
    room.remove_off_camera("h", 1)
    assert room.off_camera.entries == {}


def test_chat_goes_to_those_in_the_call_and_has_limits() -> None:
    room = meeting_with(("b", Role.BRUKER))
    room.connect("w", Role.PARORENDE, 9, host=False)
    room.request_entry("w")
    effects = room.chat("b", "hei")
    assert {e.to for e in effects if isinstance(e, Send)} == {"h", "b"}
    assert not any(isinstance(e, Audit) for e in effects)  # chat is never recorded anywhere
    with pytest.raises(NotAllowed):
        room.chat("w", "from the lobby")
    with pytest.raises(NotAllowed):
        room.chat("b", "x" * 1001)


def test_leaving_frees_slots_and_tells_the_others() -> None:
    room = meeting_with(("b", Role.RADGIVER), ("c", Role.TEKNIKER))
    effects = room.leave("b")
    # h saw b first (slot 0); c saw h, then b (slot 1)
    assert Detach("h", 0) in effects and Detach("c", 1) in effects
    assert {"type": "participant-left", "participant": "b"} in sends_to(effects, "h")
    assert "b" not in room.participants
    room.connect("d", Role.LEVERANDOR, 4, host=False)
    room.request_entry("d")
    assert Attach("h", 0, "d") in room.admit("h", "d")


def test_a_full_room_refuses_one_more() -> None:
    room = Room("m1", slot_count=1)
    room.connect("a", Role.FORMIDLER, 1, host=True)
    room.connect("b", Role.BRUKER, 2, host=False)
    with pytest.raises(MeetingFull):
        room.connect("c", Role.PARORENDE, 3, host=False)


def test_media_state_goes_to_everyone_in_the_call() -> None:
    room = meeting_with(("b", Role.BRUKER))
    effects = room.set_media("b", audio=False, video=True)
    assert {e.to for e in effects if isinstance(e, Send)} == {"h", "b"}
    assert room.participants["b"].audio is False


def test_face_visible_start_and_end_are_audited() -> None:
    room = meeting_with(("b", Role.BRUKER))
    effects = room.set_consent_scopes(2, frozenset({"video", "audio", "face_visible"}), ENDS)
    assert Audit("face_visible.start", "bruker", {"participant_role": "bruker"}) in effects
    effects = room.set_consent_scopes(2, frozenset({"video", "audio"}))  # the time limit passed
    assert Audit("face_visible.end", "bruker", {"participant_role": "bruker"}) in effects
    assert gates(effects) == {"b": (VideoGate.OPEN, True)}


def test_a_pre_call_check_sees_itself_only_and_cannot_enter() -> None:
    room = meeting_with(("b", Role.BRUKER))
    effects = room.connect("c", Role.BRUKER, 2, host=False, check_only=True)
    assert gates(effects) == {"c": (VideoGate.OPEN, False)}  # its own anonymized picture; nobody hears it
    assert room.find_by_invitation(2) is room.participants["b"]  # the real connection is not replaced
    with pytest.raises(NotAllowed):
        room.request_entry("c")
    assert not any(isinstance(e, Attach) for e in effects)


def test_a_reconnection_gets_the_same_slots_both_ways_and_changes_nothing_else() -> None:
    room = meeting_with(("b", Role.RADGIVER), ("c", Role.TEKNIKER))
    before = {pid: dict(p.slots) for pid, p in room.participants.items()}
    effects = room.relink("b")
    # b sees h in slot 0 and c in slot 1; h shows b in slot 0, c shows b in slot 1
    assert set(effects) == {Attach("b", 0, "h"), Attach("b", 1, "c"), Attach("h", 0, "b"), Attach("c", 1, "b")}
    assert {pid: dict(p.slots) for pid, p in room.participants.items()} == before
    assert room.relink("gone") == []


def _person(view: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in view["roster"]["participants"] if p["id"] == pid)


def test_a_resumed_socket_keeps_the_participant_and_the_others_see_it_reconnecting_until_relinked() -> None:
    """A network switch: the page comes back on a new socket under the same participant (no lobby, same slots)."""
    room = meeting_with(("b", Role.BRUKER), ("c", Role.TEKNIKER))
    room.set_paused("b", "b", True)
    before = {pid: (p.stage, dict(p.slots), p.paused) for pid, p in room.participants.items()}
    effects = room.resume("b")
    assert sends_to(effects, "b") == [
        {"type": "welcome", "participant": "b", "role": "bruker", "host": False, "slots": 3}
    ]
    assert views_to(effects, "b")[-1]["me"]["stage"] == "in_call"  # the whole view, whatever the old socket lost
    assert sends_to(effects, "h")[0] == {"type": "media-reconnecting", "participant": "b", "role": "bruker", "on": True}
    assert [_person(v, "b")["media_reconnecting"] for v in views_to(effects, "h")] == [True]
    assert not any(isinstance(e, Attach | Detach) for e in effects)
    assert {pid: (p.stage, dict(p.slots), p.paused) for pid, p in room.participants.items()} == before
    assert room.relink("b")  # the new media connection is wired to the same slots ...
    effects = room.media_reconnecting("b", False)  # ... and once it carries media, the others are told
    assert [_person(v, "b")["media_reconnecting"] for v in views_to(effects, "h")] == [False]
    assert room.reconnecting == {}
    room.resume("b")
    room.leave("b")  # a goodbye while resuming: gone, not reconnecting
    assert room.reconnecting == {}
