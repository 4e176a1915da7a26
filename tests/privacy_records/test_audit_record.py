from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from privacy.records.audit_record import Actor, ActorKind, AuditAction, AuditRecord, audit_for_consent
from privacy.records.consent import ConsentForm, ConsentGiven, ConsentWithdrawn, Giver, Recorder, RecorderKind, Scope
from privacy.records.errors import InvalidAuditRecord, PrivacyRecordError
from tests.privacy_records.fakes import first_identity_number

STAFF = Actor(ActorKind.STAFF, "staff-17")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_record_normalises_and_round_trips() -> None:
    record = AuditRecord(AuditAction.ROSTER_CHANGE, STAFF, (22, 11, 22), "m1", {"added_role": "leverandor", "n": 2})
    assert record.org_ids == (11, 22)
    payload = record.to_payload()
    assert payload["action"] == "roster.change" and payload["org_ids"] == [11, 22]
    assert AuditRecord.from_payload(payload) == record


def test_new_actions_of_the_same_shape_are_accepted() -> None:
    assert AuditRecord("drop_in.take", STAFF, (1,)).action == "drop_in.take"
    for bad in ["", "Pause", "pause now", "a.b.c.d.e", "pause;drop"]:
        with pytest.raises(InvalidAuditRecord):
            AuditRecord(bad, STAFF, (1,))


def test_actor_is_a_staff_id_or_a_role_never_a_name() -> None:
    assert Actor(ActorKind.ROLE, "parorende").ref == "parorende"
    with pytest.raises(InvalidAuditRecord):
        Actor(ActorKind.ROLE, "Kari Nordmann")
    with pytest.raises(PrivacyRecordError):
        Actor(ActorKind.STAFF, "Kari Nordmann")
    with pytest.raises(PrivacyRecordError):
        Actor(ActorKind.STAFF, first_identity_number("150387"))


@pytest.mark.parametrize(
    "details",
    [
        {"chat": "hei"},
        {"navn": "Kari"},
        {"note": "x" * 201},
        {"note": "linje\nlinje"},
        {"note": {"nested": 1}},
        {"ratio": 0.5},
        {"Bad-Key": 1},
        {"ids": [None]},
        {"ids": list(range(33))},
        {f"k{i}": i for i in range(21)},
    ],
)
def test_details_that_could_carry_personal_data_or_prose_are_refused(details: dict[str, object]) -> None:
    with pytest.raises(InvalidAuditRecord):
        AuditRecord("pause", STAFF, (1,), "m1", details)  # type: ignore[arg-type]


def test_identity_number_in_details_is_refused_without_echo() -> None:
    number = first_identity_number("150387")
    with pytest.raises(InvalidAuditRecord) as caught:
        AuditRecord("pause", STAFF, (1,), "m1", {"reason": f"bruker {number}"})
    assert number not in str(caught.value)


def test_org_ids_must_be_positive_integers() -> None:
    for bad in [(0,), (-1,), (True,), tuple(range(1, 18))]:
        with pytest.raises(InvalidAuditRecord):
            AuditRecord("pause", STAFF, bad)
    assert AuditRecord("access.refused", Actor(ActorKind.SYSTEM, "login"), ()).org_ids == ()


def test_malformed_payload_is_refused() -> None:
    good = AuditRecord("pause", STAFF, (1,), "m1").to_payload()
    for broken in ({**good, "type": "consent"}, {**good, "org_ids": "1"}, {**good, "actor": "x"}, {"type": "audit"}):
        with pytest.raises(InvalidAuditRecord):
            AuditRecord.from_payload(broken)


def test_consent_audit_carries_ids_and_scopes_not_the_purpose() -> None:
    event = ConsentGiven(
        consent_id="f1",
        meeting_id="m1",
        subject_ref="p-bruker",
        giver=Giver.GUARDIAN,
        form=ConsentForm.ORAL,
        scopes=frozenset({Scope.FACE_VISIBLE, Scope.VIDEO}),
        purpose="nakkestøtte",
        given_at=T0,
        recorded_by=Recorder(RecorderKind.STAFF, "staff-17"),
        face_visible_until=T0 + timedelta(minutes=20),
    )
    record = audit_for_consent(event, org_ids=[5], actor=STAFF)
    assert record.action == "consent.given" and record.meeting_id == "m1"
    assert record.details["scopes"] == ["face_visible", "video"] and record.details["giver"] == "guardian"
    assert "nakkestøtte" not in str(record.to_payload())
    withdrawal = ConsentWithdrawn("f1", "m1", "p-bruker", T0, Recorder(RecorderKind.STAFF, "staff-17"))
    assert audit_for_consent(withdrawal, org_ids=[5], actor=STAFF).details["scopes"] == "all"
