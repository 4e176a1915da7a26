from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from privacy.records.consent import (
    ConsentEvent,
    ConsentForm,
    ConsentGiven,
    ConsentState,
    ConsentWithdrawn,
    Giver,
    Recorder,
    RecorderKind,
    Scope,
    fold,
    from_payload,
    parse_scopes,
    to_payload,
)
from privacy.records.errors import (
    ConsentAlreadyWithdrawn,
    ConsentMissing,
    ConsentNotFound,
    DuplicateConsent,
    FaceVisibleNeedsLimit,
    IdentityNumberRefused,
    InvalidConsent,
    PrivacyRecordError,
    PurposeMissing,
    UnknownScope,
)
from tests.privacy_records.fakes import first_identity_number

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAFF = Recorder(RecorderKind.STAFF, "staff-17")
USER_DEVICE = Recorder(RecorderKind.PARTICIPANT, "p-bruker")
RELATIVE_DEVICE = Recorder(RecorderKind.PARTICIPANT, "p-parorende")


def oral(
    consent_id: str = "c1", scopes: frozenset[Scope] = frozenset({Scope.VIDEO, Scope.AUDIO}), **kw: object
) -> ConsentGiven:
    fields: dict[str, object] = {
        "consent_id": consent_id,
        "meeting_id": "m1",
        "subject_ref": "p-bruker",
        "giver": Giver.USER,
        "form": ConsentForm.ORAL,
        "scopes": scopes,
        "purpose": "posisjonering",
        "given_at": T0,
        "recorded_by": STAFF,
    }
    fields.update(kw)
    return ConsentGiven(**fields)  # type: ignore[arg-type]


def withdraw(consent_id: str = "c1", at: datetime = T0 + timedelta(minutes=10), **kw: object) -> ConsentWithdrawn:
    fields: dict[str, object] = {
        "consent_id": consent_id,
        "meeting_id": "m1",
        "subject_ref": "p-bruker",
        "withdrawn_at": at,
        "recorded_by": STAFF,
    }
    fields.update(kw)
    return ConsentWithdrawn(**fields)  # type: ignore[arg-type]


def face(until: datetime | None = T0 + timedelta(minutes=30), consent_id: str = "f1") -> ConsentGiven:
    return oral(consent_id, frozenset({Scope.FACE_VISIBLE}), purpose="nakkestøtte", face_visible_until=until)


# --- building consents ------------------------------------------------------------------------------------


def test_oral_and_written_consents_are_accepted() -> None:
    oral()
    oral(form=ConsentForm.WRITTEN, recorded_by=USER_DEVICE)
    oral(form=ConsentForm.WRITTEN, giver=Giver.RELATIVE, recorded_by=RELATIVE_DEVICE)
    oral(giver=Giver.GUARDIAN)


def test_scopes_from_user_input() -> None:
    assert parse_scopes(["video", "recording"]) == {Scope.VIDEO, Scope.RECORDING}
    with pytest.raises(UnknownScope) as caught:
        parse_scopes(["video", "screenshots"])
    assert "screenshots" not in str(caught.value)
    with pytest.raises(UnknownScope):
        oral(scopes=frozenset({"video"}))  # type: ignore[arg-type]


def test_purpose_is_required_bounded_and_free_of_identity_numbers() -> None:
    for missing in ["", "   "]:
        with pytest.raises(PurposeMissing):
            oral(purpose=missing)
    with pytest.raises(PrivacyRecordError):
        oral(purpose="x" * 201)
    number = first_identity_number("150387")
    with pytest.raises(IdentityNumberRefused) as caught:
        oral(purpose=f"bolig for {number}")
    assert number not in str(caught.value)
    assert oral(purpose="  bolig  ").purpose == "bolig"


def test_face_visible_needs_a_time_limit_within_bounds() -> None:
    with pytest.raises(FaceVisibleNeedsLimit):
        face(until=None)
    with pytest.raises(InvalidConsent):
        face(until=T0)
    with pytest.raises(InvalidConsent):
        face(until=T0 + timedelta(hours=5))
    with pytest.raises(InvalidConsent):
        oral(face_visible_until=T0 + timedelta(minutes=5))  # a limit without the face scope


def test_form_must_match_who_recorded_it() -> None:
    with pytest.raises(InvalidConsent):
        oral(recorded_by=USER_DEVICE)  # oral consent is recorded by staff
    with pytest.raises(InvalidConsent):
        oral(form=ConsentForm.WRITTEN)  # written consent is given on the person's own device
    with pytest.raises(InvalidConsent):
        oral(form=ConsentForm.WRITTEN, recorded_by=RELATIVE_DEVICE)  # user consent, someone else's device
    with pytest.raises(InvalidConsent):
        oral(form=ConsentForm.WRITTEN, giver=Giver.RELATIVE, recorded_by=USER_DEVICE)


def test_other_bad_input() -> None:
    with pytest.raises(InvalidConsent):
        oral(scopes=frozenset())
    with pytest.raises(InvalidConsent):
        oral(given_at=datetime(2026, 3, 2, 9, 0))
    with pytest.raises(PrivacyRecordError):
        oral(subject_ref="Kari Nordmann")


# --- the fold ---------------------------------------------------------------------------------------------


def test_scopes_are_active_from_consent_until_withdrawal() -> None:
    state = fold([oral(), withdraw(at=T0 + timedelta(minutes=10))])
    assert state.active_scopes("m1", "p-bruker", T0 - timedelta(seconds=1)) == frozenset()
    assert state.active_scopes("m1", "p-bruker", T0) == {Scope.VIDEO, Scope.AUDIO}
    assert state.active_scopes("m1", "p-bruker", T0 + timedelta(minutes=10)) == frozenset()
    assert state.active_scopes("m2", "p-bruker", T0) == frozenset()
    assert state.active_scopes("m1", "p-other", T0) == frozenset()


def test_partial_withdrawal_keeps_the_rest() -> None:
    state = fold([oral(), withdraw(scopes=frozenset({Scope.VIDEO}))])
    assert state.active_scopes("m1", "p-bruker", T0 + timedelta(hours=1)) == {Scope.AUDIO}
    state.apply(withdraw(at=T0 + timedelta(minutes=20)))  # the rest
    assert state.active_scopes("m1", "p-bruker", T0 + timedelta(hours=1)) == frozenset()


def test_face_visible_reverts_after_its_limit_or_withdrawal() -> None:
    until = T0 + timedelta(minutes=30)
    state = fold([oral(), face(until)])
    assert Scope.FACE_VISIBLE in state.active_scopes("m1", "p-bruker", until - timedelta(microseconds=1))
    assert state.active_scopes("m1", "p-bruker", until) == {Scope.VIDEO, Scope.AUDIO}
    assert state.face_visible_ends_at("m1", "p-bruker", T0) == until
    assert state.face_visible_ends_at("m1", "p-bruker", until) is None
    state.apply(withdraw("f1", at=T0 + timedelta(minutes=5)))
    assert state.face_visible_ends_at("m1", "p-bruker", T0) == T0 + timedelta(minutes=5)
    assert Scope.FACE_VISIBLE not in state.active_scopes("m1", "p-bruker", T0 + timedelta(minutes=6))


def test_require_gates_on_the_scope() -> None:
    state = fold([oral()])
    state.require("m1", "p-bruker", Scope.VIDEO, T0)
    with pytest.raises(ConsentMissing):
        state.require("m1", "p-bruker", Scope.RECORDING, T0)


def test_withdrawal_errors_leave_the_state_unchanged() -> None:
    state = fold([oral()])
    with pytest.raises(ConsentNotFound):
        state.apply(withdraw("never-given"))
    with pytest.raises(ConsentNotFound):
        state.apply(withdraw(meeting_id="m2"))  # a consent of another meeting cannot be withdrawn from here
    with pytest.raises(InvalidConsent):
        state.apply(withdraw(scopes=frozenset({Scope.RECORDING})))
    with pytest.raises(InvalidConsent):
        state.apply(withdraw(at=T0 - timedelta(minutes=1)))
    assert state.active_scopes("m1", "p-bruker", T0 + timedelta(hours=1)) == {Scope.VIDEO, Scope.AUDIO}
    state.apply(withdraw())
    with pytest.raises(ConsentAlreadyWithdrawn):
        state.apply(withdraw())
    with pytest.raises(DuplicateConsent):
        state.apply(oral())


def test_several_consents_add_up() -> None:
    recording = oral("c2", frozenset({Scope.RECORDING}), given_at=T0 + timedelta(minutes=1))
    state = ConsentState()
    for event in (oral(), recording, withdraw()):
        state.apply(event)
    assert state.active_scopes("m1", "p-bruker", T0 + timedelta(minutes=11)) == {Scope.RECORDING}
    assert [s.given.consent_id for s in state.consents("m1")] == ["c1", "c2"]


# --- payloads ---------------------------------------------------------------------------------------------


def test_payload_round_trip() -> None:
    events: list[ConsentEvent] = [
        face(),
        oral(form=ConsentForm.WRITTEN, recorded_by=USER_DEVICE),
        withdraw(),
        withdraw(scopes=frozenset({Scope.AUDIO})),
    ]
    for event in events:
        payload = to_payload(event)
        assert from_payload(payload) == event
    given = to_payload(face())
    assert given["type"] == "consent.given" and given["scopes"] == ["face_visible"]
    assert given["face_visible_until"] == "2026-03-02T09:30:00.000000+00:00"


def test_malformed_payloads_are_refused() -> None:
    good = to_payload(oral())
    for broken in (
        {**good, "type": "consent.maybe"},
        {**good, "scopes": "video"},
        {**good, "scopes": ["video", "x"]},
        {**good, "given_at": "yesterday"},
        {k: v for k, v in good.items() if k != "purpose"},
        {**good, "recorded_by": "staff-17"},
    ):
        with pytest.raises(PrivacyRecordError):
            from_payload(broken)
    assert dataclasses.asdict(from_payload(good)) == dataclasses.asdict(oral())
