"""Consent, as the routine asks for it: who consented, in what form, to what, for which purpose, until when.

Pure domain. A consent is given by the user or by a relative or guardian on the user's behalf, either orally
(a staff member who heard it records it) or in writing (the person gives it on their own device through their
join link). ``face_visible`` is an exception to the rule that no face is shown, so it needs a purpose and a time
limit and reverts to anonymized when the limit passes. A withdrawal ends some or all scopes of one consent.
``ConsentState`` folds the events of the ledger and answers which scopes are active for a participant at a time.
No names are recorded: the subject is the participant's reference in the meeting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from privacy.records.errors import (
    ConsentAlreadyWithdrawn,
    ConsentMissing,
    ConsentNotFound,
    DuplicateConsent,
    FaceVisibleNeedsLimit,
    InvalidConsent,
    InvalidText,
    PurposeMissing,
    UnknownScope,
)
from privacy.records.signed_chain import format_time
from privacy.records.validators import validate_free_text, validate_reference
from privacy.user_text import Text

PURPOSE_MAX_LENGTH = 200
PURPOSES = ("posisjonering", "styresystem", "hodestotte", "bolig", "annet")
"""What video or recording is for, chosen from a list: free text typed here would land in the signed ledger for
good, so only a short note beside the choice is allowed, and it is checked like every free-text field."""
PURPOSE_NOTE_MAX_LENGTH = 80


def compose_purpose(code: str, note: str = "") -> str:
    """The ledger's purpose text: a listed code, optionally ``code: note``. InvalidConsent for anything else."""
    if code not in PURPOSES:
        raise InvalidConsent(Text("err.consent.purpose_unlisted"))
    cleaned = validate_free_text(Text("field.note"), note, max_length=PURPOSE_NOTE_MAX_LENGTH, required=False)
    cleaned = " ".join(cleaned.split())
    return f"{code}: {cleaned}" if cleaned else code


MAX_FACE_VISIBLE = timedelta(hours=4)
"""Longest face_visible exception one consent may grant: one fitting session, not a standing permission."""


class Scope(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    RECORDING = "recording"
    FACE_VISIBLE = "face_visible"


class Giver(StrEnum):
    """Who consents: the user, or someone on the user's behalf (Brukerpass lets parents act for children)."""

    USER = "user"
    RELATIVE = "relative"
    GUARDIAN = "guardian"


class ConsentForm(StrEnum):
    ORAL = "oral"
    """Said aloud in the meeting and recorded by the staff member who heard it."""
    WRITTEN = "written"
    """Given by the person themself on their own device, through their own join link."""


class RecorderKind(StrEnum):
    STAFF = "staff"
    PARTICIPANT = "participant"


@dataclass(frozen=True, slots=True)
class Recorder:
    """Who put the record in: a staff id, or the participant reference of the device it was given on."""

    kind: RecorderKind
    ref: str

    def __post_init__(self) -> None:
        validate_reference(Text("field.recorded_by"), self.ref)


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Scopes from user input; UnknownScope (which does not echo the value) for anything not a scope."""
    try:
        return frozenset(Scope(value) for value in values)
    except ValueError:
        raise UnknownScope() from None


def _aware(moment: datetime, what: str) -> None:
    """``what`` names the moment in the message key: ``given``, ``until`` or ``withdrawn``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidConsent(Text(f"err.consent.no_timezone.{what}"))


@dataclass(frozen=True, slots=True)
class ConsentGiven:
    """A consent as recorded. Construction validates it: an instance is always a consent the ledger accepts."""

    consent_id: str
    meeting_id: str
    subject_ref: str
    giver: Giver
    form: ConsentForm
    scopes: frozenset[Scope]
    purpose: str
    given_at: datetime
    recorded_by: Recorder
    face_visible_until: datetime | None = None

    def __post_init__(self) -> None:
        validate_reference(Text("field.consent_id"), self.consent_id)
        validate_reference(Text("field.meeting_id"), self.meeting_id)
        validate_reference(Text("field.participant"), self.subject_ref)
        if not self.scopes:
            raise InvalidConsent(Text("err.consent.no_scope"))
        if not all(isinstance(scope, Scope) for scope in self.scopes):
            raise UnknownScope()
        try:
            purpose = validate_free_text(
                Text("field.purpose"), self.purpose, max_length=PURPOSE_MAX_LENGTH, required=True
            )
        except InvalidText as exc:
            if not self.purpose.strip():
                raise PurposeMissing() from exc
            raise
        object.__setattr__(self, "purpose", purpose)
        _aware(self.given_at, "given")
        self._check_face_visible()
        self._check_form()

    def _check_face_visible(self) -> None:
        until = self.face_visible_until
        if Scope.FACE_VISIBLE not in self.scopes:
            if until is not None:
                raise InvalidConsent(Text("err.consent.limit_only_face"))
            return
        if until is None:
            raise FaceVisibleNeedsLimit()
        _aware(until, "until")
        if until <= self.given_at:
            raise InvalidConsent(Text("err.consent.limit_before_given"))
        if until - self.given_at > MAX_FACE_VISIBLE:
            hours = int(MAX_FACE_VISIBLE.total_seconds() // 3600)
            raise InvalidConsent(Text("err.consent.limit_too_long", hours=hours))

    def _check_form(self) -> None:
        if self.form is ConsentForm.ORAL:
            if self.recorded_by.kind is not RecorderKind.STAFF:
                raise InvalidConsent(Text("err.consent.oral_by_staff"))
            return
        if self.recorded_by.kind is not RecorderKind.PARTICIPANT:
            raise InvalidConsent(Text("err.consent.written_by_self"))
        own_device = self.recorded_by.ref == self.subject_ref
        if (self.giver is Giver.USER) != own_device:
            raise InvalidConsent(Text("err.consent.written_own_device"))


@dataclass(frozen=True, slots=True)
class ConsentWithdrawn:
    """A withdrawal of some (``scopes``) or all (``scopes=None``) scopes of one earlier consent."""

    consent_id: str
    meeting_id: str
    subject_ref: str
    withdrawn_at: datetime
    recorded_by: Recorder
    scopes: frozenset[Scope] | None = None

    def __post_init__(self) -> None:
        validate_reference(Text("field.consent_id"), self.consent_id)
        validate_reference(Text("field.meeting_id"), self.meeting_id)
        validate_reference(Text("field.participant"), self.subject_ref)
        _aware(self.withdrawn_at, "withdrawn")
        if self.scopes is not None:
            if not self.scopes:
                raise InvalidConsent(Text("err.consent.withdraw_no_scope"))
            if not all(isinstance(scope, Scope) for scope in self.scopes):
                raise UnknownScope()


ConsentEvent = ConsentGiven | ConsentWithdrawn


@dataclass(slots=True)
class ConsentStatus:
    """One consent and when each of its scopes was withdrawn."""

    given: ConsentGiven
    withdrawn: dict[Scope, datetime] = field(default_factory=dict)

    def active(self, scope: Scope, at: datetime) -> bool:
        given = self.given
        if scope not in given.scopes or at < given.given_at:
            return False
        ended = self.withdrawn.get(scope)
        if ended is not None and at >= ended:
            return False
        until = given.face_visible_until
        return not (scope is Scope.FACE_VISIBLE and until is not None and at >= until)


class ConsentState:
    """The ledger folded: apply events in ledger order, then ask what is active.

    ``apply`` checks an event against what came before (a withdrawal must name a consent of the same meeting
    and participant that still has those scopes) and leaves the state unchanged when it raises, so the store
    can call it under the chain's lock before appending.
    """

    def __init__(self) -> None:
        self._consents: dict[str, ConsentStatus] = {}

    def apply(self, event: ConsentEvent) -> None:
        if isinstance(event, ConsentGiven):
            if event.consent_id in self._consents:
                raise DuplicateConsent()
            self._consents[event.consent_id] = ConsentStatus(event)
            return
        status = self._consents.get(event.consent_id)
        if status is None or (status.given.meeting_id, status.given.subject_ref) != (
            event.meeting_id,
            event.subject_ref,
        ):
            raise ConsentNotFound()
        scopes = event.scopes if event.scopes is not None else status.given.scopes
        if not scopes <= status.given.scopes:
            raise InvalidConsent(Text("err.consent.withdraw_other_scope"))
        remaining = scopes - status.withdrawn.keys()
        if not remaining:
            raise ConsentAlreadyWithdrawn()
        if event.withdrawn_at < status.given.given_at:
            raise InvalidConsent(Text("err.consent.withdraw_before_given"))
        for scope in remaining:
            status.withdrawn[scope] = event.withdrawn_at

    def consents(self, meeting_id: str, subject_ref: str | None = None) -> list[ConsentStatus]:
        """Consents of a meeting (optionally one participant), in the order they were given."""
        return [
            status
            for status in self._consents.values()
            if status.given.meeting_id == meeting_id
            and (subject_ref is None or status.given.subject_ref == subject_ref)
        ]

    def active_scopes(self, meeting_id: str, subject_ref: str, at: datetime) -> frozenset[Scope]:
        """The scopes some consent grants for this participant at ``at`` (face_visible only before its limit)."""
        return frozenset(
            scope
            for status in self.consents(meeting_id, subject_ref)
            for scope in status.given.scopes
            if status.active(scope, at)
        )

    def require(self, meeting_id: str, subject_ref: str, scope: Scope, at: datetime) -> None:
        """Gate: ConsentMissing unless ``scope`` is active, for callers that must not go on without it."""
        if scope not in self.active_scopes(meeting_id, subject_ref, at):
            raise ConsentMissing()

    def face_visible_ends_at(self, meeting_id: str, subject_ref: str, at: datetime) -> datetime | None:
        """When the face_visible exception active at ``at`` ends (withdrawal or limit), or None if none is."""
        ends: list[datetime] = []
        for status in self.consents(meeting_id, subject_ref):
            if status.active(Scope.FACE_VISIBLE, at) and status.given.face_visible_until is not None:
                withdrawn = status.withdrawn.get(Scope.FACE_VISIBLE)
                limit = status.given.face_visible_until
                ends.append(min(limit, withdrawn) if withdrawn is not None else limit)
        return max(ends) if ends else None


def fold(events: Iterable[ConsentEvent]) -> ConsentState:
    """The state after ``events`` in order; raises at the first event that does not fit."""
    state = ConsentState()
    for event in events:
        state.apply(event)
    return state


# --- payloads for the ledger -------------------------------------------------------------------------------

GIVEN = "consent.given"
WITHDRAWN = "consent.withdrawn"


def to_payload(event: ConsentEvent) -> dict[str, object]:
    """The event as the JSON object the ledger signs (times as UTC ISO strings, scopes sorted)."""
    recorded_by = {"kind": event.recorded_by.kind.value, "ref": event.recorded_by.ref}
    if isinstance(event, ConsentGiven):
        until = event.face_visible_until
        return {
            "type": GIVEN,
            "consent_id": event.consent_id,
            "meeting_id": event.meeting_id,
            "subject_ref": event.subject_ref,
            "giver": event.giver.value,
            "form": event.form.value,
            "scopes": sorted(scope.value for scope in event.scopes),
            "purpose": event.purpose,
            "given_at": format_time(event.given_at),
            "recorded_by": recorded_by,
            "face_visible_until": format_time(until) if until is not None else None,
        }
    return {
        "type": WITHDRAWN,
        "consent_id": event.consent_id,
        "meeting_id": event.meeting_id,
        "subject_ref": event.subject_ref,
        "withdrawn_at": format_time(event.withdrawn_at),
        "recorded_by": recorded_by,
        "scopes": sorted(scope.value for scope in event.scopes) if event.scopes is not None else None,
    }


def from_payload(payload: Mapping[str, object]) -> ConsentEvent:
    """Read an event back from its ledger payload, validating it as on the way in."""
    try:
        kind = payload["type"]
        raw_recorder = payload["recorded_by"]
        if not isinstance(raw_recorder, Mapping):
            raise TypeError("recorded_by")
        recorder = Recorder(RecorderKind(_text(raw_recorder, "kind")), _text(raw_recorder, "ref"))
        consent_id, meeting_id = _text(payload, "consent_id"), _text(payload, "meeting_id")
        subject_ref = _text(payload, "subject_ref")
        if kind == GIVEN:
            until = payload.get("face_visible_until")
            return ConsentGiven(
                consent_id=consent_id,
                meeting_id=meeting_id,
                subject_ref=subject_ref,
                giver=Giver(_text(payload, "giver")),
                form=ConsentForm(_text(payload, "form")),
                scopes=parse_scopes(_texts(payload, "scopes")),
                purpose=_text(payload, "purpose"),
                given_at=datetime.fromisoformat(_text(payload, "given_at")),
                recorded_by=recorder,
                face_visible_until=datetime.fromisoformat(until) if isinstance(until, str) else None,
            )
        if kind == WITHDRAWN:
            scopes = payload.get("scopes")
            return ConsentWithdrawn(
                consent_id=consent_id,
                meeting_id=meeting_id,
                subject_ref=subject_ref,
                withdrawn_at=datetime.fromisoformat(_text(payload, "withdrawn_at")),
                recorded_by=recorder,
                scopes=parse_scopes(_texts(payload, "scopes")) if scopes is not None else None,
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidConsent(Text("err.consent.malformed")) from exc
    raise InvalidConsent(Text("err.consent.malformed"))


def _text(mapping: Mapping[str, object], key: str) -> str:
    value = mapping[key]
    if not isinstance(value, str):
        raise TypeError(key)
    return value


def _texts(mapping: Mapping[str, object], key: str) -> list[str]:
    value = mapping[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(key)
    return [str(item) for item in value]
