"""Storing plans (with SEQUENCE), room codes and PINs, opening-hour exceptions, repairs and summaries in SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from session import tables
from session.access.attempt_limits import BackoffPolicy
from session.departments import Department
from session.meetings import create_meeting, get_meeting
from session.planning import tables as planning_tables
from session.planning.errors import PlanInvalid, SummaryInvalid
from session.planning.opening_hours import DayException, Period, standard_hours
from session.planning.repair import parse_repair_form
from session.planning.room_code import hash_pin, pin_matches
from session.planning.store import (
    RoomCodeOutcome,
    cancel_plan,
    check_room_code,
    issue_room_code,
    list_repairs,
    load_opening_exceptions,
    load_plan,
    load_summary,
    save_opening_exception,
    save_plan,
    save_repair,
    save_summary,
    with_exceptions,
)
from session.planning.summary import Presence, build_summary
from session.roles import Role
from tests.planning.samples import NOW, sample_plan
from web.database import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(tables.metadata.create_all)
        await conn.run_sync(planning_tables.metadata.create_all)
        await conn.execute(
            insert(tables.organisations).values(id=1, org_number="974760673", name="Sentral", kind="centre")
        )
        await conn.execute(insert(tables.staff).values(id=1, subject="s1", display_name="T", organisation_id=1))
    yield engine
    await engine.dispose()


async def new_meeting(engine: AsyncEngine) -> str:
    async with engine.begin() as conn:
        meeting = await create_meeting(
            conn, organisation_id=1, centre_id=None, topic="Foreløpig", kind="annet", created_by=1, now=NOW
        )
    return meeting.id


async def test_a_plan_is_stored_with_its_lists_and_the_sequence_rises_on_each_change(engine: AsyncEngine) -> None:
    meeting_id = await new_meeting(engine)
    plan = sample_plan()
    async with engine.begin() as conn:
        assert await save_plan(conn, meeting_id, plan, now=NOW) == 0
    async with engine.begin() as conn:
        stored = await load_plan(conn, meeting_id)
        meeting = await get_meeting(conn, meeting_id)
    assert stored is not None and stored.plan == plan and stored.sequence == 0 and stored.cancelled_at is None
    assert meeting is not None and meeting.topic == plan.topic and meeting.kind == "bolig"

    moved = sample_plan(starts_at="2025-11-25T12:00", ends_at="2025-11-25T13:00", drawings=[])
    async with engine.begin() as conn:
        assert await save_plan(conn, meeting_id, moved, now=NOW) == 1
        assert await cancel_plan(conn, meeting_id, now=NOW) == 2
    async with engine.begin() as conn:
        stored = await load_plan(conn, meeting_id)
        with pytest.raises(PlanInvalid):
            await save_plan(conn, meeting_id, moved, now=NOW)
        with pytest.raises(PlanInvalid):
            await cancel_plan(conn, meeting_id, now=NOW)
    assert stored is not None and stored.plan == moved and stored.cancelled_at == NOW


async def test_a_failed_write_leaves_nothing_behind(engine: AsyncEngine) -> None:
    plan = sample_plan()
    with pytest.raises(Exception, match="FOREIGN KEY"):
        async with engine.begin() as conn:
            await save_plan(conn, "no-such-meeting", plan, now=NOW)
    async with engine.begin() as conn:
        for table in (planning_tables.meeting_plans, planning_tables.meeting_plan_items):
            assert (await conn.execute(select(func.count()).select_from(table))).scalar_one() == 0


async def test_room_code_and_pin_let_in_only_with_the_right_pin_and_lock_after_failures(engine: AsyncEngine) -> None:
    meeting_id = await new_meeting(engine)
    async with engine.begin() as conn:
        credentials = await issue_room_code(conn, meeting_id, now=NOW, expires_at=NOW + timedelta(days=7))
        stored = (await conn.execute(select(planning_tables.room_codes))).one()
    assert credentials.pin not in stored.pin_hash and len(credentials.code) == 8
    wrong = f"{(int(credentials.pin) + 1) % 10**6:06d}"

    async with engine.begin() as conn:
        ok = await check_room_code(conn, credentials.display_code, credentials.pin, now=NOW)
        assert ok.outcome is RoomCodeOutcome.OK and ok.meeting_id == meeting_id
        assert (await check_room_code(conn, "0000000", "1234", now=NOW)).outcome is RoomCodeOutcome.UNKNOWN
        other_code = f"{(int(credentials.code) + 1) % 10**8:08d}"
        unknown = await check_room_code(conn, other_code, credentials.pin, now=NOW)
        assert unknown.outcome is RoomCodeOutcome.UNKNOWN
        policy = BackoffPolicy(free=2, first_delay=60.0, max_delay=3600.0)
        for _ in range(2):
            assert (await check_room_code(conn, credentials.code, wrong, now=NOW, policy=policy)).outcome is (
                RoomCodeOutcome.WRONG_PIN
            )
        third = await check_room_code(conn, credentials.code, wrong, now=NOW, policy=policy)
        assert third.outcome is RoomCodeOutcome.LOCKED  # the next try must wait 60 s
        locked = await check_room_code(conn, credentials.code, credentials.pin, now=NOW + timedelta(seconds=30))
        assert locked.outcome is RoomCodeOutcome.LOCKED and locked.meeting_id is None
        after = NOW + timedelta(seconds=61)
        fourth = await check_room_code(conn, credentials.code, wrong, now=after, policy=policy)
        assert fourth.outcome is RoomCodeOutcome.LOCKED  # and now 120 s: the wait doubles
        early = await check_room_code(conn, credentials.code, credentials.pin, now=after + timedelta(seconds=100))
        assert early.outcome is RoomCodeOutcome.LOCKED
        later = await check_room_code(conn, credentials.code, credentials.pin, now=after + timedelta(seconds=121))
        assert later.outcome is RoomCodeOutcome.OK
        expired = await check_room_code(conn, credentials.code, credentials.pin, now=NOW + timedelta(days=8))
        assert expired.outcome is RoomCodeOutcome.EXPIRED


async def test_wrong_pins_from_two_processes_at_once_all_count(engine: AsyncEngine, tmp_path: Path) -> None:
    meeting_id = await new_meeting(engine)
    async with engine.begin() as conn:
        credentials = await issue_room_code(conn, meeting_id, now=NOW, expires_at=NOW + timedelta(days=7))
    wrong = f"{(int(credentials.pin) + 1) % 10**6:06d}"
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")  # a second process's own connections
    policy = BackoffPolicy(free=100)

    async def guess(db: AsyncEngine) -> RoomCodeOutcome:
        async with db.begin() as conn:
            return (await check_room_code(conn, credentials.code, wrong, now=NOW, policy=policy)).outcome

    try:
        outcomes = await asyncio.gather(*(guess(engine if n % 2 else other) for n in range(12)))
    finally:
        await other.dispose()
    assert set(outcomes) == {RoomCodeOutcome.WRONG_PIN}
    async with engine.connect() as conn:
        counted = (await conn.execute(select(planning_tables.room_codes.c.failed_attempts))).scalar_one()
    assert counted == 12, "a read-then-write count would lose failures that overlap"


async def test_cancelling_ends_the_room_code(engine: AsyncEngine) -> None:
    meeting_id = await new_meeting(engine)
    async with engine.begin() as conn:
        await save_plan(conn, meeting_id, sample_plan(), now=NOW)
        credentials = await issue_room_code(conn, meeting_id, now=NOW, expires_at=NOW + timedelta(days=7))
        await cancel_plan(conn, meeting_id, now=NOW)
        result = await check_room_code(conn, credentials.code, credentials.pin, now=NOW + timedelta(seconds=1))
    assert result.outcome is RoomCodeOutcome.EXPIRED


def test_the_pin_hash_is_salted_bound_to_the_code_and_peppered() -> None:
    first, second = hash_pin("12345678", "0001"), hash_pin("12345678", "0001")
    assert first != second
    assert pin_matches("12345678", "0001", first) and pin_matches("12345678", "0001", second)
    assert not pin_matches("87654321", "0001", first)
    assert not pin_matches("12345678", "0002", first)
    peppered = hash_pin("12345678", "0001", pepper=b"server-secret")
    assert not pin_matches("12345678", "0001", peppered)
    assert pin_matches("12345678", "0001", peppered, pepper=b"server-secret")
    assert not pin_matches("12345678", "0001", "garbage")


async def test_opening_exceptions_are_stored_and_merged(engine: AsyncEngine) -> None:
    closed = DayException(date(2025, 11, 26), (), "fagdag")
    short = DayException(date(2025, 11, 27), (Period(time(10), time(12)),), "kort dag")
    async with engine.begin() as conn:
        for exception in (closed, short, DayException(date(2025, 11, 26), (), "fagdag hele dagen")):
            await save_opening_exception(conn, centre_id=1, department=Department.TEKNISK, exception=exception)
        found = await load_opening_exceptions(
            conn, centre_id=1, department=Department.TEKNISK, start=date(2025, 11, 1), end=date(2025, 11, 30)
        )
        other = await load_opening_exceptions(
            conn, centre_id=1, department=Department.BOLIG, start=date(2025, 11, 1), end=date(2025, 11, 30)
        )
    assert found == [DayException(date(2025, 11, 26), (), "fagdag hele dagen"), short] and other == []
    hours = with_exceptions(standard_hours(Department.TEKNISK), found)
    assert not hours.is_open(datetime(2025, 11, 26, 10, tzinfo=UTC))
    assert hours.is_open(datetime(2025, 11, 27, 10, tzinfo=UTC))  # 11.00 in Oslo


async def test_repairs_and_summaries_are_stored_and_read_back(engine: AsyncEngine) -> None:
    meeting_id = await new_meeting(engine)
    diagnosis = parse_repair_form(
        {
            "serial_number": "RS-2231",
            "fault_description": "Wire slitt",
            "decision": "send_inn",
            "next_step": "Sendes inn",
            "part_number": ["W-1", "W-2"],
            "part_description": ["Wire", "Hylse"],
            "part_quantity": ["1", "3"],
        }
    )
    made = build_summary(
        meeting_id=meeting_id,
        kind="reparasjon",
        topic="Rullestol",
        starts_at=NOW,
        ends_at=NOW + timedelta(minutes=30),
        present=[Presence("tekniker", True), Presence("tolk", False)],
        consents=[],
        outcome="Sendes inn",
        next_contact="Sentralen ringer når den er klar",
        confirmed_at=NOW + timedelta(minutes=31),
        confirmed_by_role=Role.TEKNIKER,
        repair=diagnosis,
    )
    async with engine.begin() as conn:
        await save_repair(conn, meeting_id, diagnosis, recorded_by=1, now=NOW)
        digest = await save_summary(conn, made, confirmed_by=1)
        assert await list_repairs(conn, meeting_id) == [diagnosis]
        assert await load_summary(conn, meeting_id) == made
        assert await load_summary(conn, "other") is None
        assert len(digest) == 64
        with pytest.raises(SummaryInvalid):
            await save_summary(conn, made, confirmed_by=1)
