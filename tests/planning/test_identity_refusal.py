"""Every free-text field of plans, repair diagnoses and summaries refuses a valid identity number, says why,
never echoes it, and accepts numbers that are not valid identity numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from privacy.records.validators import find_identity_numbers
from session.planning.errors import PlanningError
from session.planning.plan import parse_plan
from session.planning.repair import parse_repair_form
from session.planning.summary import build_summary
from session.roles import Role
from tests.planning.identity_numbers import INVALID, VALID
from tests.said import nb

NOW = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)


def plan_form(field: str, text: str) -> None:
    data: dict[str, str | list[str]] = {
        "kind": "reparasjon",
        "starts_at": "2025-11-24T10:00",
        "ends_at": "2025-11-24T11:00",
        "topic": "Rullestol som trekker mot venstre",
        "filming": "Hjulene og bremsen",
        "camera_operator": "formidler",
        "participants": ["formidler", "tekniker"],
        "drawings": ["Bilde av bremsen"],
        "serial_numbers": ["RS-2231"],
    }
    data[field] = [f"Gjelder {text} her"] if field in ("drawings",) else f"Gjelder {text} her"
    if field == "serial_numbers":
        data[field] = text
    parse_plan(data, now=NOW)


def repair_form(field: str, text: str) -> None:
    data: dict[str, str | list[str]] = {
        "serial_number": "RS-2231",
        "fault_description": "Bremsen tar ikke på venstre side",
        "decision": "reparer_lokalt",
        "next_step": "Formidler monterer ny wire",
        "part_number": ["W-100"],
        "part_description": ["Bremsewire"],
        "part_quantity": ["1"],
    }
    data[field] = text if field in ("serial_number", "part_number") else f"Gjelder {text} her"
    if field.startswith("part_"):
        data[field] = [str(data[field])]
    parse_repair_form(data)


def summary_form(field: str, text: str) -> None:
    values = {"topic": "Rullestol", "outcome": "Bremsen justeres", "next_contact": "Formidler ringer"}
    values[field] = f"Gjelder {text} her"
    build_summary(
        meeting_id="m1",
        kind="reparasjon",
        topic=values["topic"],
        starts_at=NOW,
        ends_at=None,
        present=[],
        consents=[],
        outcome=values["outcome"],
        next_contact=values["next_contact"],
        confirmed_at=NOW,
        confirmed_by_role=Role.TEKNIKER,
    )


FIELDS: list[tuple[str, Callable[[str, str], None], str]] = [
    ("plan", plan_form, "topic"),
    ("plan", plan_form, "filming"),
    ("plan", plan_form, "drawings"),
    ("plan", plan_form, "serial_numbers"),
    ("repair", repair_form, "serial_number"),
    ("repair", repair_form, "fault_description"),
    ("repair", repair_form, "next_step"),
    ("repair", repair_form, "part_number"),
    ("repair", repair_form, "part_description"),
    ("summary", summary_form, "topic"),
    ("summary", summary_form, "outcome"),
    ("summary", summary_form, "next_contact"),
]
FIELD_IDS = [f"{form}.{field}" for form, _, field in FIELDS]


def test_the_synthetic_numbers_are_what_the_validator_calls_valid_and_invalid() -> None:
    assert all(find_identity_numbers(number) for number in VALID.values())
    assert not any(find_identity_numbers(number) for number in INVALID.values())


@pytest.mark.parametrize("number", list(VALID.values()), ids=list(VALID))
@pytest.mark.parametrize(("form", "submit", "field"), FIELDS, ids=FIELD_IDS)
def test_a_valid_identity_number_is_refused_with_the_reason(
    form: str, submit: Callable[[str, str], None], field: str, number: str
) -> None:
    with pytest.raises(PlanningError) as caught:
        submit(field, number)
    error = caught.value
    expected_field = "parts" if field.startswith("part_") else field
    assert error.field == expected_field, error.problems
    assert "fødselsnummer eller D-nummer" in nb(error.message)
    digits = number.replace(" ", "")
    for message in [nb(error), *map(nb, error.problems.values())]:
        assert digits not in message.replace(" ", "")


@pytest.mark.parametrize("number", list(INVALID.values()), ids=list(INVALID))
@pytest.mark.parametrize(("form", "submit", "field"), FIELDS, ids=FIELD_IDS)
def test_a_number_that_is_not_an_identity_number_is_accepted(
    form: str, submit: Callable[[str, str], None], field: str, number: str
) -> None:
    submit(field, number)
