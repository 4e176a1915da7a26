"""A live meeting's timed jobs (the end of a face-visible period, a reconnection's grace) are kept and retried."""

from __future__ import annotations

import asyncio
import logging

import pytest

from session.call.room import Room
from session.meeting.meeting import TIMER_ATTEMPTS, LiveMeeting


def meeting() -> LiveMeeting:
    return LiveMeeting(Room("m1", 3), (1,))


async def settle(live: LiveMeeting, seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)
    while live.tasks:
        await asyncio.gather(*live.tasks, return_exceptions=True)


async def test_a_failing_job_is_tried_again_and_logged_without_details(caplog: pytest.LogCaptureFixture) -> None:
    live, runs = meeting(), list[int]()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError("link-7 kari nordmann")  # what a failure might carry must not reach the log

    with caplog.at_level(logging.WARNING, logger="session.meeting.meeting"):
        live.later("link-7", 0.01, job, kind="face_visible_end", retry_after=0.01)
        assert "link-7" in live.timers
        await settle(live)
    assert runs == [0, 1, 2] and not live.timers and not live.tasks
    assert [r.getMessage() for r in caplog.records] == ["meeting task failed, trying again"] * 2
    assert all(r.__dict__["task"] == "face_visible_end" for r in caplog.records)
    assert "kari" not in caplog.text and "link-7" not in caplog.text


async def test_retries_end_after_a_few_attempts_or_when_the_meeting_ends() -> None:
    live, runs = meeting(), list[int]()

    async def job() -> None:
        runs.append(1)
        raise RuntimeError

    live.later("link-7", 0.01, job, kind="face_visible_end", retry_after=0.01)
    await settle(live, 0.5)
    assert len(runs) == TIMER_ATTEMPTS and not live.timers

    live2, runs2 = meeting(), list[int]()

    async def job2() -> None:
        runs2.append(1)
        live2.cancel_timers()  # the meeting was dropped while the job ran
        raise RuntimeError

    live2.later("reconnect-7", 0.01, job2, kind="reconnect_grace", retry_after=0.01)
    await settle(live2)
    assert len(runs2) == 1 and not live2.timers


async def test_a_newer_job_replaces_a_pending_one() -> None:
    live, runs = meeting(), list[str]()

    async def job(name: str) -> None:
        runs.append(name)

    live.later("link-7", 0.05, lambda: job("old"), kind="face_visible_end")
    live.later("link-7", 0.01, lambda: job("new"), kind="face_visible_end")
    await settle(live)
    assert runs == ["new"]
