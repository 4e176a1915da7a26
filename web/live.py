"""Meetings with someone connected to this process (a room lives on one node, as in any SFU)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiohttp import web

from session.room import Room


@dataclass
class LiveMeeting:
    room: Room
    org_ids: tuple[int, ...]
    """The organisations the meeting belongs to: its audit entries are theirs to read."""
    parties: tuple[int, ...] = ()
    """The two ends (municipal side, centre) that each confirm a recording's deletion."""
    sockets: dict[str, web.WebSocketResponse] = field(default_factory=dict)
    recent_audits: dict[str, tuple[float, int]] = field(default_factory=dict)
    arriving: int = 0
    """Connections between admission and entering the room (the meeting is not dropped while one is pending)."""
    """Identical audit records written lately (key → time written, how many were merged since)."""
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def cancel_timers(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()


class LiveMeetings:
    """All meetings with someone connected to this process (a room lives on one node)."""

    def __init__(self) -> None:
        self.meetings: dict[str, LiveMeeting] = {}
        self.draining = False

    def participant_count(self) -> int:
        return sum(len(m.sockets) for m in self.meetings.values())

    async def close_all(self) -> None:
        self.draining = True
        for meeting in list(self.meetings.values()):
            for ws in list(meeting.sockets.values()):
                with contextlib.suppress(Exception):
                    await ws.send_json({"type": "ended", "reason": "server_shutdown"})
                    await ws.close()
