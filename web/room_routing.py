"""Which worker (or node) serves a request: a room's requests all go to the same one. Pure functions.

Every join link reads ``/j/<meeting>.<role>.<expires>.<nonce>.<mac>`` (``session.link_tokens``), so the meeting
id is the first dot-separated field after ``/j/``: the page, its pre-call check and the signalling WebSocket of
every participant of one meeting carry the same key. The key is mapped to a worker by rendezvous (highest random
weight) hashing, so taking a worker out moves only that worker's rooms and adding one moves only about 1/N of
them; HAProxy's ``balance hash`` with ``hash-type consistent`` does the same between nodes (deploy/haproxy.cfg).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

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
