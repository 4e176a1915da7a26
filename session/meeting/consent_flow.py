"""Consent in a live meeting: recorded in the signed ledger, then the room's gates follow the ledger.

Consent is about the user (role ``bruker``) and is kept per join link, so it survives a reconnect. Oral consent
is recorded by a staff member who heard it; written consent is given on the person's own device, by the user or
by a relative or guardian on the user's behalf. ``face_visible`` ends by itself: the gate carries its end and the
PrivacyTrack anonymizes every frame after it, timer or not; a timer then re-reads the ledger so the room, the
roster and the audit log follow.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from privacy.records.audit_record import Actor, ActorKind
from privacy.records.consent import (
    ConsentForm,
    ConsentGiven,
    ConsentWithdrawn,
    Giver,
    Recorder,
    RecorderKind,
    compose_purpose,
    parse_scopes,
)
from privacy.records.errors import ConsentError, InvalidInput, InvalidText, PrivacyRecordError, PurposeMissing
from privacy.user_text import Text
from recordings.retention import DeletionTrigger
from session.access.permissions import CallAction
from session.call.room import Effect, NotAllowed, Participant, Send
from session.call.signalling import GiveConsent, WithdrawConsent
from session.errors import SessionError
from session.meeting.effects import carry_out
from session.meeting.meeting import LiveMeeting
from session.meeting.ports import Services
from session.roles import Role
from session.subject_refs import link_ref, staff_ref

log = logging.getLogger(__name__)


class ConsentRefused(SessionError):
    """A consent or withdrawal refused; ``code`` and ``field`` let the client show why beside the form."""

    code = "consent_refused"

    def __init__(self, message: str | Text, code: str = "consent_refused", field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def subject_ref(p: Participant) -> str:
    return link_ref(p.invitation_id)


def actor_of(p: Participant) -> Actor:
    return Actor(ActorKind.STAFF, staff_ref(p.staff_id)) if p.staff_id else Actor(ActorKind.ROLE, p.role.value)


def _recorder(p: Participant) -> Recorder:
    if p.role.is_staff and p.staff_id is not None:
        return Recorder(RecorderKind.STAFF, staff_ref(p.staff_id))
    return Recorder(RecorderKind.PARTICIPANT, link_ref(p.invitation_id))


def _check_who(actor: Participant, subject: Participant, form: ConsentForm) -> None:
    if subject.role is not Role.BRUKER or subject.check_only:
        raise NotAllowed(Text("err.consent_flow.user_only"))
    if form is ConsentForm.ORAL:
        action = CallAction.CONSENT_ORAL
    else:
        action = CallAction.CONSENT_WRITTEN_SELF if actor.id == subject.id else CallAction.CONSENT_WRITTEN_FOR_USER
    if not actor.may(action):
        raise NotAllowed(Text(_CONSENT_REFUSALS[action]))


def _check_withdraw(actor: Participant, subject: Participant) -> None:
    action = CallAction.WITHDRAW_CONSENT_SELF if actor.id == subject.id else CallAction.WITHDRAW_CONSENT_OTHER
    if subject.role is not Role.BRUKER or not actor.may(action):
        raise NotAllowed(Text("err.consent_flow.withdraw_who"))


_CONSENT_REFUSALS = {
    CallAction.CONSENT_ORAL: "err.consent_flow.oral",
    CallAction.CONSENT_WRITTEN_SELF: "err.consent_flow.written",
    CallAction.CONSENT_WRITTEN_FOR_USER: "err.consent_flow.written",
}


def _field(exc: PrivacyRecordError) -> str | None:
    """The form field a refusal is about; the purpose is the consent's only free text."""
    field = getattr(exc, "field", None)
    if field == Text("field.note"):
        return "note"
    if isinstance(exc, InvalidText | PurposeMissing) or field == Text("field.purpose"):
        return "purpose"
    return None


async def refresh(services: Services, meeting: LiveMeeting, subject: Participant) -> list[Effect]:
    """Read the ledger for this user's link and set the room's gates; schedule the end of face_visible."""
    records, now = services.records, services.now()
    ref = subject_ref(subject)
    state = await records.consent.state(meeting.room.meeting_id)
    scopes = frozenset(s.value for s in state.active_scopes(meeting.room.meeting_id, ref, now))
    ends = state.face_visible_ends_at(meeting.room.meeting_id, ref, now)
    if ends is None:
        meeting.cancel_timer(ref)
    else:
        invitation_id = subject.invitation_id

        async def expire() -> None:
            current = meeting.room.find_by_invitation(invitation_id)
            if current is not None:
                await carry_out(services, meeting, await refresh(services, meeting, current))

        meeting.later(ref, max(0.0, (ends - now).total_seconds()), expire, kind="face_visible_end")
    return meeting.room.set_consent_scopes(subject.invitation_id, scopes, ends)


async def handle(
    services: Services, meeting: LiveMeeting, pid: str, msg: GiveConsent | WithdrawConsent
) -> list[Effect]:
    """A consent given or withdrawn: checked, signed into the ledger, then the gates follow; withdrawing consent
    to recording stops and deletes the meeting's recordings."""
    room = meeting.room
    actor = room.participants.get(pid)
    subject = room.participants.get(msg.participant)
    if actor is None or subject is None:
        raise NotAllowed(Text("err.room.no_participant"))
    now = services.now()
    try:
        if isinstance(msg, GiveConsent):
            form = ConsentForm(msg.form)
            _check_who(actor, subject, form)
            scopes = parse_scopes(msg.scopes)
            event: ConsentGiven | ConsentWithdrawn = ConsentGiven(
                consent_id=secrets.token_hex(8),
                meeting_id=room.meeting_id,
                subject_ref=subject_ref(subject),
                giver=Giver(msg.giver),
                form=form,
                scopes=scopes,
                purpose=compose_purpose(msg.purpose, msg.note),
                given_at=now,
                recorded_by=_recorder(actor),
                face_visible_until=(now + timedelta(minutes=msg.face_visible_minutes))
                if msg.face_visible_minutes
                else None,
            )
        else:
            _check_withdraw(actor, subject)
            event = ConsentWithdrawn(
                consent_id=msg.consent_id,
                meeting_id=room.meeting_id,
                subject_ref=subject_ref(subject),
                withdrawn_at=now,
                recorded_by=_recorder(actor),
            )
        before = meeting.room.consents.get(subject.invitation_id, frozenset())
        await services.records.record_consent(event, org_ids=meeting.org_ids, actor=actor_of(actor))
    except ValueError:
        raise ConsentRefused(Text("err.consent_flow.form_or_giver")) from None
    except (ConsentError, InvalidInput) as exc:  # e.g. an identity number in the note: refused, the call goes on
        raise ConsentRefused(exc.text or str(exc), exc.code, _field(exc)) from None
    effects = await refresh(services, meeting, subject)
    if "recording" in before and "recording" not in meeting.room.consents.get(subject.invitation_id, frozenset()):
        effects += await _delete_recordings(services, meeting)
    if isinstance(event, ConsentGiven):
        confirm = {"type": "consent-recorded", "consent_id": event.consent_id, "participant": subject.id}
        effects.append(Send(pid, confirm))  # after the gates: when the client hears it, it holds
    return effects


async def _delete_recordings(services: Services, meeting: LiveMeeting) -> list[Effect]:
    """Consent to recording withdrawn: the meeting's recordings are stopped and deleted (with certificates)."""
    service = services.recordings
    if service is None:
        return []
    entries = await service.compliance_view(meeting.org_ids)
    for entry in entries:
        recording = entry.recording
        if recording.meeting_id == meeting.room.meeting_id and recording.state in ("recording", "ready", "broken"):
            await service.request_deletion(recording.id, trigger=DeletionTrigger.CONSENT_WITHDRAWN)
    return meeting.room.recording_stopped() if meeting.room.recording else []
