"""Meeting plans: a valid form becomes a plan; every kind of bad input is refused naming its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from privacy.user_text import Text
from session.errors import SessionError
from session.planning.errors import PlanInvalid
from session.planning.form_values import FormData
from session.planning.plan import OSLO, LocalTimeRefused, MeetingPlan, ParticipantKind, parse_local_time, parse_plan
from session.roles import Role
from tests.said import nb

NOW = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)


def form(**changes: str | list[str]) -> dict[str, str | list[str]]:
    base: dict[str, str | list[str]] = {
        "kind": "bolig",
        "starts_at": "2025-11-24T10:00",
        "ends_at": "2025-11-24T11:00",
        "topic": "Tilgjengelighet på bad, terskel og dusjsone",
        "filming": "Badet fra døra, terskelen og dusjsonen. Ikke brukeren.",
        "camera_operator": "formidler",
        "participants": ["formidler", "radgiver", "bolig", "husbanken"],
        "drawings": "Plantegning bad\nSnitt dusjsone",
        "serial_numbers": ["SN-88123"],
        "csrf": "ignored",
    }
    base.update(changes)
    return base


def refused(data: FormData, now: datetime = NOW) -> PlanInvalid:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(data, now=now)
    return caught.value


def test_a_valid_form_becomes_a_plan_in_utc() -> None:
    plan = parse_plan(form(), now=NOW)
    assert plan.kind == "bolig"
    assert plan.starts_at == datetime(2025, 11, 24, 9, 0, tzinfo=UTC)  # 10.00 in Oslo is 09.00 UTC in winter
    assert plan.duration == timedelta(hours=1)
    assert plan.camera_operator is Role.FORMIDLER
    assert plan.participants == (
        ParticipantKind.FORMIDLER,
        ParticipantKind.RADGIVER,
        ParticipantKind.BOLIG,
        ParticipantKind.HUSBANKEN,
    )
    assert plan.drawings == ("Plantegning bad", "Snitt dusjsone")
    assert plan.serial_numbers == ("SN-88123",)


def test_the_plan_goes_back_into_the_form_unchanged() -> None:
    plan = parse_plan(form(), now=NOW)
    assert parse_plan(plan.to_form(), now=NOW) == plan


def test_an_offset_in_the_time_is_respected() -> None:
    plan = parse_plan(form(starts_at="2025-11-24T10:00+00:00", ends_at="2025-11-24T12:00Z"), now=NOW)
    assert plan.starts_at == datetime(2025, 11, 24, 10, tzinfo=UTC)
    assert plan.duration == timedelta(hours=2)


def test_duplicates_are_dropped_keeping_order() -> None:
    plan = parse_plan(form(participants=["tekniker", "formidler", "tekniker"], serial_numbers="A1\nB2\nA1"), now=NOW)
    assert plan.participants == (ParticipantKind.TEKNIKER, ParticipantKind.FORMIDLER)
    assert plan.serial_numbers == ("A1", "B2")


def test_every_role_and_department_is_a_participant_kind() -> None:
    values = {kind.value for kind in ParticipantKind}
    assert {role.value for role in Role} <= values
    assert {"teknisk", "bolig", "mobilitet", "kommunikasjon", "husbanken", "leverandor"} <= values


def test_the_error_is_a_session_error_with_a_field_and_all_problems() -> None:
    error = refused(form(kind="hage", topic="", participants=[]))
    assert isinstance(error, SessionError)
    assert error.field == "kind"
    assert set(error.problems) == {"kind", "topic", "participants"}
    assert error.code == "plan_invalid"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"starts_at": "2025-11-19T10:00", "ends_at": "2025-11-19T11:00"}, "starts_at", "fortiden"),
        ({"ends_at": "2025-11-24T09:00"}, "ends_at", "etter starttiden"),
        ({"ends_at": "2025-11-24T10:00"}, "ends_at", "etter starttiden"),
        ({"ends_at": "2025-11-24T10:02"}, "ends_at", "minst 5 minutter"),
        ({"ends_at": "2025-11-24T18:01"}, "ends_at", "høyst 8 timer"),
        ({"starts_at": "2027-01-01T10:00", "ends_at": "2027-01-01T11:00"}, "starts_at", "ett år"),
        ({"starts_at": "i morgen"}, "starts_at", "gyldig tidspunkt"),
        ({"starts_at": ""}, "starts_at", "fylles ut"),
        ({"kind": "hage"}, "kind", "møtetype"),
        ({"camera_operator": "fotograf"}, "camera_operator", "hvem som filmer"),
        ({"camera_operator": "tekniker"}, "camera_operator", "blant deltakerne"),
        ({"participants": ["formidler", "sjef"]}, "participants", "Ukjent deltakerrolle"),
        ({"participants": []}, "participants", "minst én"),
        ({"topic": "   "}, "topic", "fylles ut"),
        ({"topic": "x" * 201}, "topic", "høyst 200"),
        ({"topic": "to\nlinjer"}, "topic", "linjeskift"),
        ({"topic": "skjult\x1bescape"}, "topic", "kontrolltegn"),
        ({"filming": ""}, "filming", "fylles ut"),
        ({"drawings": ["ok", "bell\x07"]}, "drawings", "kontrolltegn"),
        ({"drawings": [f"t{i}" for i in range(21)]}, "drawings", "høyst 20"),
        ({"serial_numbers": ["SN-1", "SN\x002"]}, "serial_numbers", "nr. 2"),
        ({"serial_numbers": "SN\x0c1"}, "serial_numbers", "kontrolltegn"),
        ({"serial_numbers": "SN\u200b1"}, "serial_numbers", "usynlige"),
        ({"serial_numbers": "SN\r1"}, "serial_numbers", "kontrolltegn"),
        ({"kind": "reparasjon", "serial_numbers": []}, "serial_numbers", "reparasjonsmøte"),
        ({"kind": ["bolig", "annet"]}, "kind", "én verdi"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes: dict[str, str | list[str]], field: str, words: str) -> None:
    error = refused(form(**changes))
    assert field in error.problems, error.problems
    assert words.lower() in nb(error.problems[field]).lower()


def test_a_start_a_few_minutes_ago_is_accepted_but_not_more() -> None:
    now = datetime(2025, 11, 24, 9, 4, tzinfo=UTC)  # 10.04 in Oslo
    assert parse_plan(form(), now=now).starts_at < now
    assert refused(form(), now=now + timedelta(minutes=2)).field == "starts_at"


def test_wall_clock_times_skipped_or_repeated_by_summer_time_are_refused() -> None:
    with pytest.raises(LocalTimeRefused) as skipped:
        parse_local_time("2026-03-29T02:30", OSLO)
    assert "sommertid" in nb(Text(skipped.value.key, field="Starttid"))
    with pytest.raises(LocalTimeRefused) as repeated:
        parse_local_time("2026-10-25T02:30", OSLO)
    assert "to ganger" in nb(Text(repeated.value.key, field="Starttid"))
    assert parse_local_time("2026-03-29T03:30", OSLO) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_a_plan_in_summer_time_uses_the_summer_offset() -> None:
    plan = parse_plan(form(starts_at="2026-06-01T10:00", ends_at="2026-06-01T11:30"), now=NOW)
    assert plan.starts_at == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        parse_plan(form(), now=datetime(2025, 11, 20, 9, 0))


def test_a_plan_is_frozen() -> None:
    plan: MeetingPlan = parse_plan(form(), now=NOW)
    with pytest.raises(AttributeError):
        plan.topic = "annet"  # type: ignore[misc]
