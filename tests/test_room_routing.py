"""Room routing: every participant's requests of one meeting reach one worker; rooms spread; few move."""

from __future__ import annotations

import secrets

import pytest

from web.room_routing import RoomPlacements, pick_worker, room_of_path

TOKEN = "mAbC_12-x.bruker.1790000000.{nonce}.abcdefghijklmnopqrstuv"


def test_every_path_of_a_meeting_names_the_meeting() -> None:
    a, b = TOKEN.format(nonce="n" * 43), TOKEN.format(nonce="m" * 43)
    assert {room_of_path(f"/j/{a}"), room_of_path(f"/j/{b}/ws"), room_of_path(f"/j/{a}/sjekk/data")} == {"mAbC_12-x"}
    for other in ("/", "/j/", "/j/nodots", "/staff/meetings/x", "/jj/a.b", "/j/../a.b", "/j/" + "a" * 33 + ".x"):
        assert room_of_path(other) is None, other


def test_rooms_spread_and_only_the_removed_workers_rooms_move() -> None:
    workers = ["w0", "w1", "w2", "w3"]
    rooms = [secrets.token_urlsafe(8) for _ in range(2000)]
    placed = {room: pick_worker(room, workers) for room in rooms}
    counts = [list(placed.values()).count(w) for w in workers]
    assert min(counts) > 2000 / 4 * 0.8, counts
    after = {room: pick_worker(room, ["w0", "w1", "w3"]) for room in rooms}
    moved = [room for room in rooms if after[room] != placed[room]]
    assert moved and all(placed[room] == "w2" for room in moved)


def test_no_workers_is_an_error() -> None:
    with pytest.raises(ValueError):
        pick_worker("room", [])


def test_a_live_room_stays_with_its_worker_when_the_ready_set_changes() -> None:
    placements = RoomPlacements(idle_s=60)
    first = placements.place("room", ["w0"], {"w0"}, now=0)  # only w0 was ready when the first person came
    assert first == "w0"
    rooms = [secrets.token_urlsafe(8) for _ in range(50)]
    assert {pick_worker(room, ["w0", "w1"]) for room in rooms} == {"w0", "w1"}
    for room in rooms:
        placements.place(room, ["w0"], {"w0"}, now=1)
    # w1 came up: every room placed on w0 stays there; a busy w0 (up, not ready) keeps its rooms too
    assert all(placements.place(room, ["w0", "w1"], {"w0", "w1"}, now=2) == "w0" for room in rooms)
    assert all(placements.place(room, ["w1"], {"w0", "w1"}, now=3) == "w0" for room in rooms)
    # w0 died (its rooms' state went with it): they move to the ready worker, and stay there when w0 is back
    assert all(placements.place(room, ["w1"], {"w1"}, now=4) == "w1" for room in rooms)
    assert all(placements.place(room, ["w0", "w1"], {"w0", "w1"}, now=5) == "w1" for room in rooms)
    # a new room is hashed over the ready workers
    new = [secrets.token_urlsafe(8) for _ in range(50)]
    assert {placements.place(room, ["w0", "w1"], {"w0", "w1"}, now=6) for room in new} == {"w0", "w1"}


def test_placements_are_forgotten_when_idle_and_bounded() -> None:
    placements = RoomPlacements(idle_s=60, max_rooms=10)
    placements.place("old", ["w0"], {"w0"}, now=0)
    placements.touch("old", now=50)
    assert placements.place("old", ["w1"], {"w0", "w1"}, now=100) == "w0"  # touched at 50: still live
    placements.place("x", ["w0"], {"w0"}, now=100)
    assert placements.place("x", ["w1"], {"w0", "w1"}, now=161) == "w1"  # idle for 61 s: hashed anew
    for n in range(100):
        placements.place(f"flood{n}", ["w0"], {"w0"}, now=200)
    assert len(placements) == 10


def test_no_worker_for_an_unplaced_room_is_an_error() -> None:
    with pytest.raises(ValueError):
        RoomPlacements().place("room", [], {"w0"}, now=0)
