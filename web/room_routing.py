"""Which worker (or node) serves a request: a room's requests all go to the same one. Pure functions.

Every join link reads ``/j/<meeting>.<role>.<expires>.<nonce>.<mac>`` (``session.access.link_tokens``), so the meeting
id is the first dot-separated field after ``/j/``: the page, its pre-call check and the signalling WebSocket of
every participant of one meeting carry the same key. The key is mapped to a worker by rendezvous (highest random
weight) hashing, so taking a worker out moves only that worker's rooms and adding one moves only about 1/N of
them; HAProxy's ``balance hash`` with ``hash-type consistent`` does the same between nodes (deploy/haproxy.cfg).

A hash over the *ready* workers alone would still split a room whenever that set changes while the room is live:
a worker that comes up after the first participant joined, or one that is briefly too busy to answer its
readiness check, changes the hash of rooms that already sit elsewhere. :class:`RoomPlacements` therefore
remembers where each live room was placed and keeps it there while that worker is up; only new rooms (and rooms
whose worker died, which took their state with it) are hashed.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Collection, Sequence

ROOM_PATH = re.compile(r"^/j/([A-Za-z0-9_-]{1,32})\.[^/]*(?:/|$)")


def room_of_path(path: str) -> str | None:
    """The meeting id in a join path (``/j/<token>``, ``/j/<token>/ws``, ``/j/<token>/sjekk``), else None."""
    match = ROOM_PATH.match(path)
    return match.group(1) if match else None


def pick_worker(key: str, workers: Sequence[str]) -> str:
    """The worker with the highest hash of (worker, key): stable while the set of workers is stable."""
    if not workers:
        raise ValueError("no worker to pick from")

    def weight(worker: str) -> bytes:
        return hashlib.sha256(f"{worker}\x00{key}".encode()).digest()

    return max(workers, key=weight)


ROOM_IDLE_S = 12 * 3600.0
"""A placement nobody has used for this long is forgotten: longer than any meeting, so a live room never is."""
MAX_ROOMS = 100_000
"""Bound on remembered rooms (least recently used go first), so a flood of made-up room ids cannot grow memory."""


class RoomPlacements:
    """Which worker holds each live room; a placed room stays with its worker while that worker is up."""

    def __init__(self, idle_s: float = ROOM_IDLE_S, max_rooms: int = MAX_ROOMS) -> None:
        self._idle_s = idle_s
        self._max_rooms = max_rooms
        self._placed: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def place(self, room: str, ready: Sequence[str], up: Collection[str], now: float) -> str:
        """The worker for ``room``: its earlier worker if that one is still ``up`` (even if too busy to count as
        ready for new rooms), else the hash pick among ``ready``. Raises ValueError when ``ready`` is empty and
        the room has no live worker."""
        self._forget_idle(now)
        earlier = self._placed.get(room)
        worker = earlier[0] if earlier is not None and earlier[0] in up else pick_worker(room, ready)
        self._placed[room] = (worker, now)
        self._placed.move_to_end(room)
        while len(self._placed) > self._max_rooms:
            self._placed.popitem(last=False)
        return worker

    def touch(self, room: str, now: float) -> None:
        """Mark a room as still in use (a long signalling WebSocket makes no new requests to place it)."""
        earlier = self._placed.get(room)
        if earlier is not None:
            self._placed[room] = (earlier[0], now)
            self._placed.move_to_end(room)

    def __len__(self) -> int:
        return len(self._placed)

    def _forget_idle(self, now: float) -> None:
        while self._placed:
            room, (_, used) = next(iter(self._placed.items()))
            if now - used <= self._idle_s:
                return
            del self._placed[room]
