"""The sans-IO parts of a call: message parsing with its limits, and the room state machine."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from session.errors import MeetingFull
from session.roles import Role
from session.room import Attach, Detach, Room, Send
from session.signalling import (
    MAX_MESSAGE_BYTES,
    Enter,
    Offer,
    Ping,
    ProtocolError,
    SetMedia,
    parse_client_message,
)


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
    ],
)
def test_bad_messages_are_refused_with_a_reason(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == code
    assert info.value.message  # a sentence for people, in Norwegian


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
    return [e.message for e in effects if isinstance(e, Send) and e.to == pid]


def test_preview_is_private_until_entering() -> None:
    room = Room("m1", slot_count=2)
    room.connect("a", Role.FORMIDLER, 1, host=True)
    effects = room.connect("b", Role.BRUKER, 2, host=False)
    assert [m["type"] for m in sends_to(effects, "b")] == ["welcome"]
    assert sends_to(effects, "a") == []  # nobody learns of a participant still in preview
    assert room.enter("a") == [Send("a", {"type": "entered", "participants": [room.participants["a"].public()]})]


def test_entering_shows_each_to_the_other_in_a_free_slot() -> None:
    room = Room("m1", slot_count=2)
    room.connect("a", Role.FORMIDLER, 1, host=True)
    room.connect("b", Role.BRUKER, 2, host=False)
    room.enter("a")
    effects = room.enter("b")
    assert Attach("a", 0, "b") in effects and Attach("b", 0, "a") in effects
    assert {"type": "slot", "slot": 0, "participant": "b", "role": "bruker"} in sends_to(effects, "a")
    assert any(m["type"] == "participant-joined" for m in sends_to(effects, "a"))


def test_leaving_frees_slots_and_tells_the_others() -> None:
    room = Room("m1", slot_count=2)
    for pid, n in (("a", 1), ("b", 2), ("c", 3)):
        room.connect(pid, Role.RADGIVER, n, host=False)
        room.enter(pid)
    effects = room.leave("b")
    # a saw b first (slot 0); c saw a, then b (slot 1)
    assert Detach("a", 0) in effects and Detach("c", 1) in effects
    assert {"type": "participant-left", "participant": "b"} in sends_to(effects, "a")
    assert "b" not in room.participants
    # the freed slot is used again by the next one to enter
    room.connect("d", Role.LEVERANDOR, 4, host=False)
    assert Attach("a", 0, "d") in room.enter("d")


def test_a_full_room_refuses_one_more() -> None:
    room = Room("m1", slot_count=1)
    room.connect("a", Role.FORMIDLER, 1, host=True)
    room.connect("b", Role.BRUKER, 2, host=False)
    with pytest.raises(MeetingFull):
        room.connect("c", Role.PARORENDE, 3, host=False)


def test_media_state_goes_to_everyone_in_the_call() -> None:
    room = Room("m1", slot_count=2)
    room.connect("a", Role.FORMIDLER, 1, host=True)
    room.connect("b", Role.BRUKER, 2, host=False)
    room.enter("a")
    room.enter("b")
    effects = room.set_media("b", audio=False, video=True)
    assert {e.to for e in effects if isinstance(e, Send)} == {"a", "b"}
    assert room.participants["b"].audio is False
