"""Carrying out what the room state machine decided: messages, relay wiring, gates, audit, revocations,
recording. Through the ports only (``session.meeting.ports``)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, assert_never

from privacy.records.audit_record import Actor, ActorKind, AuditRecord
from privacy.user_text import Text, said_by
from recordings.access import StaffActor
from recordings.errors import RecordingError
from session.call.room import (
    Attach,
    Audit,
    Close,
    Detach,
    Effect,
    Record,
    Revoke,
    Send,
    SetAudioOnly,
    SetGates,
    StartRecording,
    StopRecording,
)
from session.meeting.meeting import LiveMeeting
from session.meeting.ports import Services
from session.roles import Role
from session.subject_refs import link_ref, staff_ref


async def carry_out(services: Services, meeting: LiveMeeting, effects: list[Effect]) -> None:
    """Each effect in order. Exhaustive (``match`` + ``assert_never``): mypy refuses a new effect type that is
    not carried out here."""
    for effect in effects:
        match effect:
            case Send():
                outbox = meeting.connections.get(effect.to)
                if outbox is not None and not outbox.closed:
                    await outbox.send(effect.message)
            case Attach():
                services.relay.attach(effect.viewer, effect.slot, effect.source)
            case Detach():
                services.relay.detach(effect.viewer, effect.slot)
            case SetGates():
                services.relay.set_gates(effect.participant, effect.video.value, effect.audio, effect.until)
            case SetAudioOnly():
                services.relay.set_audio_only(effect.participant, effect.on)
            case Audit():
                details = _merged(meeting, effect)
                if details is not None:
                    record = AuditRecord(
                        action=effect.action,
                        actor=Actor(ActorKind.ROLE, effect.actor_role),
                        org_ids=meeting.org_ids,
                        meeting_id=meeting.room.meeting_id,
                        details=details,
                    )
                    await services.records.audit.append(record)
            case Revoke():
                await services.links.revoke(actor_staff_id=effect.by_staff_id, invitation_id=effect.invitation_id)
            case StartRecording() | StopRecording() | Record():
                await carry_out(services, meeting, await _recording(services, meeting, effect))
            case Close():
                outbox = meeting.connections.pop(effect.participant, None)
                if outbox is not None:
                    await outbox.end(effect.reason)
            case _:
                assert_never(effect)


def _host_actor(meeting: LiveMeeting, pid: str | None) -> StaffActor | None:
    p = meeting.room.participants.get(pid or "")
    if p is None or p.staff_id is None:
        return None
    return StaffActor(staff_ref(p.staff_id), frozenset(meeting.org_ids), is_host=p.host)


async def _recording(
    services: Services, meeting: LiveMeeting, effect: StartRecording | StopRecording | Record
) -> list[Effect]:
    """Recording only through the service, and only of processed tracks; refusals go back to the host."""
    service = services.recordings
    meeting_id = meeting.room.meeting_id
    if isinstance(effect, Record):
        p = meeting.room.participants.get(effect.participant)
        ref = link_ref(p.invitation_id) if p is not None else ""
        if service is None or p is None:
            return []
        if not effect.on:
            service.stop_participant(meeting_id, ref)
            return []
        tracks = services.relay.recording_tracks(p.id)
        if tracks is None:
            return []
        video, audio = tracks
        added = await service.add_participant(meeting_id, ref, is_user=p.role is Role.BRUKER, video=video, audio=audio)
        if not added:
            video.stop()
            audio.stop()
        return []
    host = effect.host
    actor = _host_actor(meeting, host)
    try:
        if service is None:
            raise RecordingError(Text("err.rec.not_configured"))
        if actor is None and isinstance(effect, StartRecording):
            raise RecordingError(Text("err.rec.staff_host_only"))
        if isinstance(effect, StartRecording):
            deadline = None
            if effect.deadline_days is not None:
                deadline = services.now() + timedelta(days=effect.deadline_days)
            assert actor is not None
            await service.start(
                meeting_id=meeting_id,
                org_ids=meeting.parties or meeting.org_ids,
                host=actor,
                reason=effect.reason,
                user_refs=list(effect.user_refs),
                deadline=deadline,
            )
            return meeting.room.recording_started()
        recording_id = service.active_recording(meeting_id)
        if recording_id is not None:
            await service.stop(recording_id, actor)
        return meeting.room.recording_stopped()
    except RecordingError as exc:
        code = getattr(exc, "code", "recording_error")
        refusal: dict[str, Any] = {"type": "error", "code": code, "message": said_by(exc), "for": "record-start"}
        if isinstance(effect, StopRecording):
            refusal["for"] = "record-stop"
        return [Send(host, refusal)] if host else []


AUDIT_MERGE_SECONDS = 10.0


def _merged(meeting: LiveMeeting, effect: Audit) -> dict[str, Any] | None:
    """The details to write, or None when the same record was written in the last ten seconds: repeats are
    counted and carried on the next one that is written (``merged``), so a toggled pause leaves a trace of how
    often without one signed row per click."""
    key = f"{effect.action}|{effect.actor_role}|{sorted(effect.details.items())!r}"
    now = time.monotonic()
    last = meeting.recent_audits.get(key)
    if last is not None and now - last[0] < AUDIT_MERGE_SECONDS:
        meeting.recent_audits[key] = (last[0], last[1] + 1)
        return None
    if len(meeting.recent_audits) > 256:
        meeting.recent_audits.clear()
    meeting.recent_audits[key] = (now, 0)
    merged = last[1] if last is not None else 0
    return {**effect.details, "merged": merged} if merged else dict(effect.details)
