"""The service the edge calls: starting only with consent, reason and an allowed deadline; playback and export
only for the organisations that took part; confirmation only by their own staff, after the certificate and with
every exported copy closed; every act and every refusal audited."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import av
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import AuditLog, ConsentLedger
from recordings import store
from recordings.encrypted_file import EncryptedWriter
from recordings.errors import (
    AccessDenied,
    ConfirmationRefused,
    DeadlineTooLate,
    ReasonMissing,
    RecordingError,
    RecordingNotAllowed,
    RecordingUnavailable,
)
from recordings.retention import DeletionTrigger, State
from recordings.service import RecordingService, StaffActor
from tests.privacy_records.fakes import first_identity_number
from tests.recordings.fakes import ArrayVideoTrack, FakeKeyProvider, FixedClock, ToneAudioTrack, solid_bgr
from tests.recordings.support import (
    KOMMUNE,
    MEETING,
    OTHER,
    SENTRAL,
    actions,
    make_service,
    recording_consent,
    stored_recording,
)
from tests.said import nb

HOST = StaffActor("staff-1", frozenset({KOMMUNE}), is_host=True)
ERGO = StaffActor("staff-2", frozenset({KOMMUNE}))
SENTRAL_STAFF = StaffActor("staff-3", frozenset({SENTRAL}))
STRANGER = StaffActor("staff-9", frozenset({OTHER}))
ORGS = (KOMMUNE, SENTRAL)
IDENTITY_NUMBER = first_identity_number("010170")


@pytest.fixture
async def setup(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> AsyncIterator[tuple[RecordingService, ConsentLedger, AuditLog]]:
    service, consent, audit = make_service(engine, recordings_dir, keys, signing_key, clock, export_allowed=True)
    yield service, consent, audit
    await service.close()


async def consent_to_recording(consent: ConsentLedger, clock: FixedClock, subject: str = "p-bruker") -> None:
    await consent.record(recording_consent(MEETING, subject, clock.now(), f"c-{subject}"))


async def start(service: RecordingService, **changes: object) -> store.RecordingRow:
    arguments: dict[str, object] = {
        "meeting_id": MEETING,
        "org_ids": ORGS,
        "host": HOST,
        "reason": "dokumentere tilpasning av rullestol",
        "user_refs": ["p-bruker"],
    }
    arguments.update(changes)
    return await service.start(**arguments)  # type: ignore[arg-type]


async def record_briefly(service: RecordingService, seconds: float = 0.6) -> store.RecordingRow:
    row = await start(service)
    assert service.active_recording(MEETING) == row.id
    frames = [solid_bgr((40, 200, 40))]
    assert await service.add_participant(
        MEETING, "p-bruker", is_user=True, video=ArrayVideoTrack(frames, loop=True), audio=ToneAudioTrack()
    )
    await asyncio.sleep(seconds)
    return await service.stop(row.id, HOST)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"host": ERGO}, RecordingNotAllowed),
        ({"host": StaffActor("staff-9", frozenset({OTHER}), is_host=True)}, RecordingNotAllowed),
        ({"reason": "   "}, ReasonMissing),
        ({"reason": f"opptak for {IDENTITY_NUMBER} sin sak"}, RecordingError),
        ({"deadline": "too late"}, DeadlineTooLate),
        ({"user_refs": ["p-bruker", "p-bruker-2"]}, RecordingNotAllowed),
    ],
)
async def test_start_is_refused_clearly_and_audited(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    clock: FixedClock,
    changes: dict[str, object],
    error: type[RecordingError],
) -> None:
    service, consent, audit = setup
    await consent_to_recording(consent, clock)
    if changes.get("deadline") == "too late":
        changes["deadline"] = clock.now() + timedelta(days=91)
    with pytest.raises(error) as caught:
        await start(service, **changes)
    assert nb(caught.value) and IDENTITY_NUMBER not in nb(caught.value)
    assert service.active_recording(MEETING) is None
    entries = [e for e in await actions(audit) if e.record.action != "consent.given"]
    assert [e.record.action for e in entries] == ["access.refused"]
    assert entries[0].record.details["attempted"] == "recording.start"
    assert entries[0].record.details["code"] == caught.value.code


async def test_start_without_recording_consent_is_refused(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
) -> None:
    service, _, _ = setup
    with pytest.raises(RecordingNotAllowed) as refused:
        await start(service)
    assert "samtykket til opptak" in nb(refused.value)


async def test_record_stop_and_play_back_in_the_browser_format(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    engine: AsyncEngine,
    recordings_dir: Path,
    clock: FixedClock,
) -> None:
    service, consent, audit = setup
    await consent_to_recording(consent, clock)
    row = await record_briefly(service)
    assert row.state is State.READY and row.deadline == clock.now() + timedelta(days=30)
    assert service.active_recording(MEETING) is None
    path = recordings_dir / row.file_path
    assert row.size_bytes == path.stat().st_size and row.ciphertext_sha256 is not None
    assert row.org_ids == ORGS and row.started_by == HOST.staff_ref

    playback = await service.open_playback(row.id, SENTRAL_STAFF)
    try:
        assert playback.content_type == "video/webm"
        head = b"".join([piece async for piece in playback.iter_range(0, 4)])
        assert head == b"\x1a\x45\xdf\xa3"
        whole = b"".join([piece async for piece in playback.iter_range(0)])
        assert len(whole) == playback.size
    finally:
        playback.close()
    with av.open(io.BytesIO(whole), "r") as container:
        assert sum(1 for _ in container.decode(video=0)) >= 3

    second = await service.open_playback(row.id, ERGO, audit_access=False)  # a further Range request
    second.close()
    log = [(e.record.action, e.record.actor.ref) for e in await actions(audit)]
    assert log == [
        ("recording.start", HOST.staff_ref),
        ("recording.stop", HOST.staff_ref),
        ("recording.access", SENTRAL_STAFF.staff_ref),
    ]


async def test_playback_by_another_organisation_is_refused_and_audited(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    clock: FixedClock,
) -> None:
    service, consent, audit = setup
    await consent_to_recording(consent, clock)
    row = await record_briefly(service, 0.2)
    with pytest.raises(AccessDenied):
        await service.open_playback(row.id, STRANGER)
    refused = (await actions(audit))[-1]
    assert refused.record.action == "access.refused" and refused.record.actor.ref == STRANGER.staff_ref
    assert refused.record.details == {"attempted": "recording.access", "code": "recording_access_denied"}
    assert set(refused.record.org_ids) == set(ORGS)  # visible to the owners' compliance officers


async def test_withdrawal_stops_the_participant_and_deletes_on_request(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    recordings_dir: Path,
    clock: FixedClock,
    signing_key: Ed25519PrivateKey,
) -> None:
    service, consent, audit = setup
    await consent_to_recording(consent, clock)
    row = await start(service)
    video = ArrayVideoTrack([solid_bgr((0, 0, 255))], loop=True)
    assert await service.add_participant(MEETING, "p-bruker", is_user=True, video=video)
    assert await service.add_participant(MEETING, "p-bruker-2", is_user=True, audio=ToneAudioTrack()) is False
    assert await service.add_participant(MEETING, "p-ergo", is_user=False, audio=ToneAudioTrack())
    await asyncio.sleep(0.2)
    assert service.stop_participant(MEETING, "p-bruker") is True
    assert video.readyState == "ended"
    assert service.stop_participant(MEETING, "p-bruker") is False
    assert await service.request_deletion(row.id, trigger=DeletionTrigger.CONSENT_WITHDRAWN) is True
    assert not (recordings_dir / row.file_path).exists()
    assert service.active_recording(MEETING) is None
    document = await service.certificate(row.id, [SENTRAL])
    assert document is not None and '"trigger":"consent_withdrawn"' in document
    assert [e.record.action for e in await actions(audit)][-2:] == ["recording.stop", "recording.deleted"]


async def test_export_custody_and_confirmation_close_the_recording(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    clock: FixedClock,
) -> None:
    service, consent, audit = setup
    await consent_to_recording(consent, clock)
    row = await record_briefly(service, 0.2)

    with pytest.raises(ReasonMissing):
        await service.export(row.id, SENTRAL_STAFF, org_id=SENTRAL, reason="")
    with pytest.raises(AccessDenied):
        await service.export(row.id, SENTRAL_STAFF, org_id=KOMMUNE, reason="klage")  # not their organisation
    custody, copy = await service.export(row.id, SENTRAL_STAFF, org_id=SENTRAL, reason="klagesak")
    copy.close()
    assert custody.org_id == SENTRAL and custody.closed_at is None

    with pytest.raises(ConfirmationRefused) as refused:
        await service.confirm_no_copy(row.id, org_id=KOMMUNE, by=ERGO)
    assert "ikke slettet ennå" in nb(refused.value)
    clock.advance(days=30)
    assert (await service.sweep()).deleted == [row.id]

    with pytest.raises(ConfirmationRefused) as refused:
        await service.confirm_no_copy(row.id, org_id=SENTRAL, by=ERGO)  # someone outside the organisation
    assert "egen organisasjon" in nb(refused.value)
    with pytest.raises(ConfirmationRefused) as refused:
        await service.confirm_no_copy(row.id, org_id=OTHER, by=STRANGER)
    assert "deltok ikke" in nb(refused.value)
    with pytest.raises(ConfirmationRefused) as refused:
        await service.confirm_no_copy(row.id, org_id=SENTRAL, by=SENTRAL_STAFF)  # custody still open
    assert "1 eksportert" in nb(refused.value)
    with pytest.raises(ConfirmationRefused):
        await service.close_custody(custody.id, ERGO)  # only the holder closes its copy
    closed = await service.close_custody(custody.id, SENTRAL_STAFF)
    assert closed.closed_at == clock.now() and closed.closed_by == SENTRAL_STAFF.staff_ref

    assert (await service.confirm_no_copy(row.id, org_id=KOMMUNE, by=ERGO)).state is State.DELETED
    with pytest.raises(ConfirmationRefused) as refused:
        await service.confirm_no_copy(row.id, org_id=KOMMUNE, by=ERGO)
    assert "allerede" in nb(refused.value)
    final = await service.confirm_no_copy(row.id, org_id=SENTRAL, by=SENTRAL_STAFF)
    assert final.state is State.CLOSED and final.closed_at == clock.now()

    [entry] = await service.compliance_view([SENTRAL])
    assert entry.recording.state is State.CLOSED and entry.overdue is None
    assert entry.certificate is not None and entry.open_custody == 0
    assert [c.org_id for c in entry.confirmations] == [KOMMUNE, SENTRAL] and entry.missing_confirmations == ()
    assert await service.compliance_view([OTHER]) == []

    log = [e.record.action for e in await actions(audit)]
    for action in ("recording.export", "recording.custody_closed", "recording.deleted"):
        assert action in log
    assert log.count("recording.deletion_confirmed") == 2
    assert log.count("access.refused") == 8


async def test_export_is_refused_unless_policy_allows_it(
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    service, consent, _ = make_service(engine, recordings_dir, keys, signing_key, clock)
    await consent_to_recording(consent, clock)
    row = await record_briefly(service, 0.2)
    with pytest.raises(RecordingNotAllowed) as refused:
        await service.export(row.id, SENTRAL_STAFF, org_id=SENTRAL, reason="klagesak")
    assert "Eksport" in nb(refused.value)


async def test_one_recording_at_a_time_and_the_deadline_stops_a_running_one(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    recordings_dir: Path,
    clock: FixedClock,
) -> None:
    service, consent, _ = setup
    await consent_to_recording(consent, clock)
    row = await start(service, deadline=clock.now() + timedelta(hours=2))
    with pytest.raises(RecordingUnavailable):
        await start(service)
    with pytest.raises(RecordingUnavailable):
        await service.open_playback(row.id, ERGO)  # not while it is being recorded
    clock.advance(hours=2)
    report = await service.sweep()
    assert report.deleted == [row.id]
    assert service.active_recording(MEETING) is None
    assert os.listdir(recordings_dir) == []


async def test_recovery_after_a_crash_marks_broken_and_the_prefix_plays(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    clock: FixedClock,
) -> None:
    service, _, audit = setup
    recording_id = store.new_id()
    path = recordings_dir / f"{recording_id}.rec"
    writer = EncryptedWriter(path, uuid.UUID(hex=recording_id), keys)
    writer.write(b"\x1a\x45\xdf\xa3" + bytes(200_000))
    writer.abort()  # the process died: no final chunk
    row = store.RecordingRow(
        id=recording_id,
        meeting_id=MEETING,
        node="local",
        reason="r",
        started_by=HOST.staff_ref,
        created_at=clock.now(),
        deadline=clock.now() + timedelta(days=1),
        state=State.RECORDING,
        file_path=path.name,
        kek_id=keys.current().kek_id.hex(),
        org_ids=ORGS,
    )
    async with engine.begin() as conn:
        await store.insert_recording(conn, row)

    assert await service.recover() == [recording_id]
    async with engine.connect() as conn:
        recovered = await store.get_recording(conn, recording_id)
    assert recovered is not None and recovered.state is State.BROKEN
    assert recovered.size_bytes == path.stat().st_size
    playback = await service.open_playback(recording_id, ERGO)
    assert not playback.complete
    assert playback.size == 3 * 64 * 1024
    playback.close()
    stopped, accessed = await actions(audit)
    assert accessed.record.action == "recording.access"
    assert stopped.record.action == "recording.stop" and stopped.record.details["outcome"] == "broken"


async def test_a_recording_that_cannot_be_written_is_marked_broken(
    engine: AsyncEngine,
    tmp_path: Path,
    keys: FakeKeyProvider,
    signing_key: Ed25519PrivateKey,
    clock: FixedClock,
) -> None:
    not_a_folder = tmp_path / "occupied"
    not_a_folder.write_text("a file where the recordings folder should be", encoding="utf-8")
    service, consent, audit = make_service(engine, not_a_folder, keys, signing_key, clock)
    await consent_to_recording(consent, clock)
    with pytest.raises(OSError):
        await start(service)
    assert service.active_recording(MEETING) is None
    assert await service.add_participant(MEETING, "p-ergo", is_user=False, audio=ToneAudioTrack()) is False
    [entry] = await service.compliance_view([KOMMUNE])
    assert entry.recording.state is State.BROKEN
    assert [e.record.action for e in await actions(audit)] == ["recording.start", "recording.stop"]


async def test_confirmations_at_the_same_moment_still_close_the_recording(
    setup: tuple[RecordingService, ConsentLedger, AuditLog],
    engine: AsyncEngine,
    recordings_dir: Path,
    keys: FakeKeyProvider,
    clock: FixedClock,
) -> None:
    service, _, _ = setup
    row = await stored_recording(
        engine, recordings_dir, keys, created_at=clock.now(), deadline=clock.now() + timedelta(days=1)
    )
    clock.advance(days=1)
    assert (await service.sweep()).deleted == [row.id]
    await asyncio.gather(
        service.confirm_no_copy(row.id, org_id=KOMMUNE, by=ERGO),
        service.confirm_no_copy(row.id, org_id=SENTRAL, by=SENTRAL_STAFF),
    )
    [entry] = await service.compliance_view(None)
    assert entry.recording.state is State.CLOSED and entry.missing_confirmations == ()
