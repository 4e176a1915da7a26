"""Room routing: every participant's requests of one meeting reach one worker; rooms spread; few move."""

from __future__ import annotations

import secrets

import pytest

from web.room_routing import pick_worker, room_of_path

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
