"""The meeting runtime driven through fakes of its ports, without a server: what the policy does when consent is
withdrawn, when the last person leaves, and when a timed job fails.

The room, the signalling parser and the consent fold are the real ones; only the ports (the connections, the
relay, the ledgers, the recording service, the links, the clock) are fakes, recording what they were asked.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiortc import MediaStreamTrack

from privacy.records.audit_record import Actor, AuditRecord
from privacy.records.consent import ConsentEvent, ConsentState, fold
from recordings.access import StaffActor
from recordings.retention import DeletionTrigger
from session.call.signalling import EndReason, GiveConsent, RoomMessage, WithdrawConsent, parse_client_message
from session.media.relay import MediaEvents
from session.meeting import consent_flow
from session.meeting.meeting import LiveMeeting
from session.meeting.runtime import MeetingRuntime
from session.meetings import Invitation
from session.roles import Role

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class FakeOutbox:
    messages: list[dict[str, Any]] = field(default_factory=list)
    ended: list[EndReason] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return bool(self.ended)

    async def send(self, message: Mapping[str, Any]) -> None:
        self.messages.append(dict(message))

    async def end(self, reason: EndReason) -> None:
        self.ended.append(reason)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


@dataclass
class FakeRelay:
    gates: dict[str, tuple[str, bool, datetime | None]] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)

    def peer_connection(self, pid: str) -> object | None:
        return None

    async def negotiate(self, pid: str, offer_sdp: str, events: MediaEvents | None = None) -> str:
        return "answer"

    def attach(self, viewer: str, slot: int, source: str) -> None:
        pass

    def detach(self, viewer: str, slot: int) -> None:
        pass

    def set_gates(self, pid: str, video: str, audio: bool, until: datetime | None = None) -> None:
        self.gates[pid] = (video, audio, until)

    def set_audio_only(self, pid: str, on: bool) -> None:
        pass

    def recording_tracks(self, pid: str) -> tuple[MediaStreamTrack, MediaStreamTrack] | None:
        return None

    async def close(self, pid: str) -> None:
        self.closed.append(pid)


@dataclass
class FakeLedgers:
    """The consent ledger (folded by the real fold) and the audit log; ``failures`` reads fail first."""

    events: list[ConsentEvent] = field(default_factory=list)
    audits: list[AuditRecord] = field(default_factory=list)
    reads: int = 0
    failures: int = 0

    @property
    def consent(self) -> FakeLedgers:
        return self

    @property
    def audit(self) -> FakeLedgers:
        return self

    async def state(self, meeting_id: str) -> ConsentState:
        self.reads += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database gone for a moment")
        return fold(self.events)

    async def append(self, record: AuditRecord) -> None:
        self.audits.append(record)

    async def record_consent(self, event: ConsentEvent, *, org_ids: Sequence[int], actor: Actor) -> None:
        self.events.append(event)


@dataclass(frozen=True)
class FakeRow:
    id: str
    meeting_id: str
    state: str


@dataclass(frozen=True)
class FakeEntry:
    recording: FakeRow


@dataclass
class FakeRecordings:
    rows: dict[str, FakeRow] = field(default_factory=dict)
    active: dict[str, str] = field(default_factory=dict)
    stopped: list[tuple[str, StaffActor | None]] = field(default_factory=list)
    deleted: list[tuple[str, DeletionTrigger]] = field(default_factory=list)

    def active_recording(self, meeting_id: str) -> str | None:
        return self.active.get(meeting_id)

    async def start(
        self,
        *,
        meeting_id: str,
        org_ids: Collection[int],
        host: StaffActor,
        reason: str,
        user_refs: Sequence[str],
        deadline: datetime | None = None,
    ) -> None:
        recording_id = f"r{len(self.rows) + 1}"
        self.rows[recording_id] = FakeRow(recording_id, meeting_id, "recording")
        self.active[meeting_id] = recording_id

    async def stop(self, recording_id: str, by: StaffActor | None = None) -> None:
        row = self.rows[recording_id]
        self.rows[recording_id] = FakeRow(row.id, row.meeting_id, "ready")
        self.active.pop(row.meeting_id, None)
        self.stopped.append((recording_id, by))

    async def add_participant(
        self,
        meeting_id: str,
        participant_ref: str,
        *,
        is_user: bool,
        video: MediaStreamTrack | None = None,
        audio: MediaStreamTrack | None = None,
    ) -> bool:
        return False

    def stop_participant(self, meeting_id: str, participant_ref: str) -> bool:
        return False

    async def compliance_view(self, org_ids: Collection[int] | None) -> list[FakeEntry]:
        return [FakeEntry(row) for row in self.rows.values()]

    async def request_deletion(
        self, recording_id: str, *, trigger: DeletionTrigger, by: StaffActor | None = None
    ) -> bool:
        row = self.rows[recording_id]
        self.rows[recording_id] = FakeRow(row.id, row.meeting_id, "deleted")
        self.active.pop(row.meeting_id, None)
        self.deleted.append((recording_id, trigger))
        return True


@dataclass
class FakeLinks:
    revoked: list[int] = field(default_factory=list)

    async def revoke(self, *, actor_staff_id: int, invitation_id: int) -> None:
        self.revoked.append(invitation_id)


@dataclass
class FakeServices:
    relay: FakeRelay = field(default_factory=FakeRelay)
    records: FakeLedgers = field(default_factory=FakeLedgers)
    recordings: FakeRecordings = field(default_factory=FakeRecordings)
    links: FakeLinks = field(default_factory=FakeLinks)
    clock: datetime = START

    def now(self) -> datetime:
        return self.clock


HOST = Invitation(1, "m1", Role.FORMIDLER, True, 7, START + timedelta(days=1))
USER = Invitation(2, "m1", Role.BRUKER, False, None, START + timedelta(days=1))


def message(raw: dict[str, Any]) -> RoomMessage | GiveConsent | WithdrawConsent:
    parsed = parse_client_message(json.dumps(raw))
    assert isinstance(parsed, RoomMessage | GiveConsent | WithdrawConsent)
    return parsed


@dataclass
class Call:
    runtime: MeetingRuntime
    services: FakeServices
    meeting: LiveMeeting
    outboxes: dict[str, FakeOutbox] = field(default_factory=dict)
    pids: dict[str, str] = field(default_factory=dict)

    async def join(self, name: str, invitation: Invitation) -> None:
        outbox = self.outboxes[name] = FakeOutbox()
        pid, effects = await self.runtime.arrive(self.meeting, outbox, invitation, check_only=False, resume=None)
        self.pids[name] = pid
        await self.runtime.enter(self.meeting, pid, effects, invitation)
        await self.send(name, {"type": "enter"})

    async def send(self, name: str, raw: dict[str, Any]) -> None:
        await self.runtime.handle(self.meeting, self.pids[name], message(raw))

    async def leave(self, name: str, invitation: Invitation, *, goodbye: bool = True) -> None:
        outbox = self.outboxes[name]
        await self.runtime.leave(self.meeting, self.pids[name], invitation.id, outbox, said_goodbye=goodbye)


async def call_with_consent(scopes: list[str], **extra: Any) -> Call:
    """Host and user in the call, the roster confirmed, the user's oral consent to ``scopes`` recorded."""
    services = FakeServices()
    runtime = MeetingRuntime(services, slots=3, timer_retry=0.02)
    call = Call(runtime, services, runtime.open("m1", (1,), (1, 2)))
    await call.join("host", HOST)
    await call.join("user", USER)
    await call.send("host", {"type": "admit", "participant": call.pids["user"]})
    await call.send("host", {"type": "roster-confirm"})
    consent = {"participant": call.pids["user"], "giver": "user", "form": "oral", "scopes": scopes, **extra}
    await call.send("host", {"type": "consent", "purpose": "hodestotte", **consent})
    return call


async def test_withdrawn_consent_to_recording_stops_and_deletes_the_meetings_recording() -> None:
    call = await call_with_consent(["video", "audio", "recording"])
    await call.send("host", {"type": "record-start", "reason": "Dokumentere tilpasningen", "deadline_days": 7})
    recordings, user = call.services.recordings, call.outboxes["user"]
    assert recordings.active == {"m1": "r1"} and user.of_type("recording")[-1]["on"] is True
    consent_id = call.outboxes["host"].of_type("consent-recorded")[-1]["consent_id"]

    await call.send("user", {"type": "consent-withdraw", "participant": call.pids["user"], "consent_id": consent_id})

    assert recordings.deleted == [("r1", DeletionTrigger.CONSENT_WITHDRAWN)]
    assert recordings.rows["r1"].state == "deleted" and not call.meeting.room.recording
    assert user.of_type("recording")[-1]["on"] is False
    assert call.services.relay.gates[call.pids["user"]][0] == "consent"  # no video consent left either


async def test_withdrawing_a_consent_without_recording_keeps_the_recording() -> None:
    """The guard above can fail: the recording stays while another consent to recording still holds."""
    call = await call_with_consent(["video", "audio"])
    first = call.outboxes["host"].of_type("consent-recorded")[-1]["consent_id"]
    consent = {"participant": call.pids["user"], "giver": "user", "form": "oral", "scopes": ["video", "recording"]}
    await call.send("host", {"type": "consent", "purpose": "hodestotte", **consent})
    await call.send("host", {"type": "record-start", "reason": "Dokumentere tilpasningen", "deadline_days": 7})
    assert call.meeting.room.recording

    await call.send("host", {"type": "consent-withdraw", "participant": call.pids["user"], "consent_id": first})

    assert call.services.recordings.deleted == [] and call.meeting.room.recording
    assert call.services.recordings.active == {"m1": "r1"}


async def test_the_last_one_leaving_stops_the_recording_and_drops_the_meeting() -> None:
    call = await call_with_consent(["video", "audio", "recording"])
    await call.send("host", {"type": "record-start", "reason": "Dokumentere tilpasningen", "deadline_days": 7})
    recordings = call.services.recordings

    await call.leave("user", USER)
    assert recordings.stopped == [] and "m1" in call.runtime.meetings  # the host is still there
    await call.leave("host", HOST)

    assert recordings.stopped == [("r1", None)]  # stopped by the system, not by a host
    assert recordings.rows["r1"].state == "ready" and "m1" not in call.runtime.meetings
    assert call.services.relay.closed == [call.pids["user"], call.pids["host"]]


async def test_a_dropped_connection_is_reconnecting_until_the_grace_ends() -> None:
    call = await call_with_consent(["video", "audio"])
    await call.leave("user", USER, goodbye=False)
    assert USER.id in call.meeting.room.reconnecting and f"reconnect-{USER.id}" in call.meeting.timers
    await call.leave("host", HOST)
    assert "m1" not in call.runtime.meetings and not call.meeting.timers  # dropped: nothing left to run


async def test_a_replaced_connection_is_ended_and_its_close_leaves_the_participant_in() -> None:
    call = await call_with_consent(["video", "audio"])
    old, old_pid = call.outboxes["user"], call.pids["user"]
    await call.join("user", USER)  # the same link from a new page: the newest wins
    assert old.ended == [EndReason.REPLACED]
    await call.runtime.leave(call.meeting, old_pid, USER.id, old, said_goodbye=False)
    assert call.pids["user"] in call.meeting.room.participants and call.pids["user"] in call.meeting.connections


async def test_a_failing_face_visible_end_is_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    """The timer that brings the room up to date when face_visible ends meets a failing ledger read: it is
    tried again, and the gate then follows the ledger."""
    call = await call_with_consent(["video", "audio", "face_visible"], face_visible_minutes=1)
    services, user_pid = call.services, call.pids["user"]
    assert services.relay.gates[user_pid][0] == "face_visible"
    services.clock = START + timedelta(minutes=1) - timedelta(seconds=0.05)  # the end is 50 ms away
    subject = call.meeting.room.participants[user_pid]
    await call.runtime.carry_out(call.meeting, await consent_flow.refresh(services, call.meeting, subject))
    reads, services.records.failures = services.records.reads, 1
    services.clock = START + timedelta(minutes=1, seconds=1)
    with caplog.at_level(logging.WARNING, logger="session.meeting.meeting"):
        for _ in range(100):
            await asyncio.sleep(0.01)
            if services.relay.gates[user_pid][0] != "face_visible":
                break
    assert services.records.reads == reads + 2  # the failed read, then the one that worked
    assert services.relay.gates[user_pid][0] == "open"  # anonymized again: the video consent still holds
    assert [r.getMessage() for r in caplog.records] == ["meeting task failed, trying again"]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
    return found


def test_the_runtime_knows_neither_aiohttp_nor_the_web_layer() -> None:
    """The runtime reaches the world only through its ports: no module of ``session/meeting`` imports aiohttp or
    ``web`` (anywhere in the file), so the web layer stays an adapter."""
    modules = sorted(Path(consent_flow.__file__).parent.glob("*.py"))
    assert {p.stem for p in modules} >= {"ports", "runtime", "meeting", "effects", "consent_flow"}
    for path in modules:
        bad = {m for m in _imports(path) if m.split(".")[0] in ("aiohttp", "web")}
        assert not bad, (path.name, bad)
    assert "aiohttp" in _imports(Path(consent_flow.__file__).parents[2] / "web" / "live.py")  # the check sees imports
