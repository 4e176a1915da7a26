"""Carrying out what the room state machine decided: messages, relay wiring, gates, audit, revocations."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta
from typing import Any, assert_never

from aiohttp import web

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
from session.roles import Role
from session.subject_refs import link_ref, staff_ref
from web.i18n import DEFAULT, say
from web.keys import CLOCK, LINKS, RECORDINGS, RECORDS, RELAY
from web.live import PAGE_LANG, LiveMeeting, end_socket


async def carry_out(app: web.Application, meeting: LiveMeeting, effects: list[Effect]) -> None:
    """Each effect in order. Exhaustive (``match`` + ``assert_never``): mypy refuses a new effect type that is
    not carried out here."""
    relay = app[RELAY]
    for effect in effects:
        match effect:
            case Send():
                ws = meeting.sockets.get(effect.to)
                if ws is not None and not ws.closed:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await ws.send_json(_said(effect.message, ws.get(PAGE_LANG, DEFAULT)))
            case Attach():
                relay.attach(effect.viewer, effect.slot, effect.source)
            case Detach():
                relay.detach(effect.viewer, effect.slot)
            case SetGates():
                relay.set_gates(effect.participant, effect.video.value, effect.audio, effect.until)
            case SetAudioOnly():
                relay.set_audio_only(effect.participant, effect.on)
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
                    await app[RECORDS].audit.append(record)
            case Revoke():
                await app[LINKS].revoke(actor_staff_id=effect.by_staff_id, invitation_id=effect.invitation_id)
            case StartRecording() | StopRecording() | Record():
                await carry_out(app, meeting, await _recording(app, meeting, effect))
            case Close():
                ws = meeting.sockets.pop(effect.participant, None)
                if ws is not None:
                    await end_socket(ws, effect.reason)
            case _:
                assert_never(effect)


def _host_actor(meeting: LiveMeeting, pid: str | None) -> StaffActor | None:
    p = meeting.room.participants.get(pid or "")
    if p is None or p.staff_id is None:
        return None
    return StaffActor(staff_ref(p.staff_id), frozenset(meeting.org_ids), is_host=p.host)


async def _recording(
    app: web.Application, meeting: LiveMeeting, effect: StartRecording | StopRecording | Record
) -> list[Effect]:
    """Recording only through the service, and only of processed tracks; refusals go back to the host."""
    service = app.get(RECORDINGS)
    meeting_id = meeting.room.meeting_id
    if isinstance(effect, Record):
        p = meeting.room.participants.get(effect.participant)
        ref = link_ref(p.invitation_id) if p is not None else ""
        if service is None or p is None:
            return []
        if not effect.on:
            service.stop_participant(meeting_id, ref)
            return []
        tracks = app[RELAY].recording_tracks(p.id)
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
                deadline = app[CLOCK]() + timedelta(days=effect.deadline_days)
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


def _said(message: dict[str, Any], lang: str) -> dict[str, Any]:
    """A message with its coded ``message`` said in the participant's language (and that language named)."""
    text = message.get("message")
    if not isinstance(text, Text):
        return message
    return {**message, "message": say(lang, text), "lang": lang}


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
