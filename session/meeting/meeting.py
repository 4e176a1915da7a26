"""One meeting with someone connected to this process (a room lives on one node, as in any SFU): its room,
who is connected, and its timed jobs with retries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from session.call.room import Room
from session.meeting.ports import Outbox

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]

TIMER_RETRY_SECONDS = 5.0
"""How soon a timed job that failed (a database hiccup, say) is tried again."""
TIMER_ATTEMPTS = 5
"""How often a timed job is tried before it is given up (and logged as given up)."""


@dataclass
class LiveMeeting:
    room: Room
    org_ids: tuple[int, ...]
    """The organisations the meeting belongs to: its audit entries are theirs to read."""
    parties: tuple[int, ...] = ()
    """The two ends (municipal side, centre) that each confirm a recording's deletion."""
    connections: dict[str, Outbox] = field(default_factory=dict)
    """Who is connected: each participant's current connection by participant id."""
    recent_audits: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Identical audit records written lately (key → time written, how many were merged since)."""
    arriving: int = 0
    """Connections between admission and entering the room (the meeting is not dropped while one is pending)."""
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    """Pending timed jobs by key (``link-<invitation>`` for a face-visible end, ``reconnect-<invitation>``)."""
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    """Jobs running now (a timer's, a media event's): referenced until they end, so none is collected half-way."""
    ended: bool = False
    """Dropped from this process: its timed jobs are not tried again."""
    timer_retry: float = TIMER_RETRY_SECONDS
    """How soon a failed timed job is tried again, unless the job says otherwise."""

    def later(self, key: str, delay: float, job: Job, *, kind: str, retry_after: float | None = None) -> None:
        """Run ``job`` in ``delay`` seconds, replacing a pending job under ``key``.

        The job's task is kept until it ends; a failure is logged with ``kind`` only (no ids, nothing personal)
        and the job is tried again a few times, unless a newer job took the key or the meeting ended meanwhile.
        Nothing that protects a face rests on this: the gates enforce their own ends, the timer only brings the
        room, the roster and the audit log up to date."""
        self.cancel_timer(key)
        self._schedule(key, delay, job, kind, TIMER_ATTEMPTS, self.timer_retry if retry_after is None else retry_after)

    def cancel_timer(self, key: str) -> None:
        timer = self.timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _schedule(self, key: str, delay: float, job: Job, kind: str, attempts: int, retry_after: float) -> None:
        def start() -> None:
            self.timers.pop(key, None)
            self.spawn(job(), kind=kind, retry=retry)

        def retry() -> bool:
            if self.ended or key in self.timers or attempts <= 1:
                return False
            self._schedule(key, retry_after, job, kind, attempts - 1, retry_after)
            return True

        self.timers[key] = asyncio.get_running_loop().call_later(delay, start)

    def spawn(
        self, job: Coroutine[Any, Any, None], *, kind: str, retry: Callable[[], bool] | None = None
    ) -> asyncio.Task[None]:
        """Run ``job`` as a task the meeting keeps until it ends. A failure is logged with ``kind`` and the
        exception's type only; ``retry`` may schedule it again (it says whether it did)."""
        task = asyncio.create_task(job)
        self.tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            if task.cancelled() or (exc := task.exception()) is None:
                return
            extra = {"task": kind, "exception": type(exc).__name__}
            if retry is not None and retry():
                log.warning("meeting task failed, trying again", extra=extra)
            else:
                log.error("meeting task failed", extra=extra)

        task.add_done_callback(done)
        return task

    def cancel_timers(self) -> None:
        """The meeting is dropped: pending jobs never run, running ones finish without being tried again."""
        self.ended = True
        for key in list(self.timers):
            self.cancel_timer(key)
