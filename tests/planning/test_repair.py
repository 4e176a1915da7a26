"""Repair diagnoses: a valid form, part rows, and refusals naming the field."""

from __future__ import annotations

import pytest

from session.planning.errors import RepairInvalid
from session.planning.repair import PartOrder, RepairDecision, RepairDiagnosis, make_diagnosis, parse_repair_form
from tests.said import nb


def form(**changes: str | list[str]) -> dict[str, str | list[str]]:
    base: dict[str, str | list[str]] = {
        "serial_number": " RS-2231 ",
        "fault_description": "Bremsen tar ikke på venstre side.\nWiren er slitt.",
        "decision": "reparer_lokalt",
        "next_step": "Formidler monterer ny wire; tekniker følger opp neste uke.",
        "part_number": ["W-100", "", "B-7"],
        "part_description": ["Bremsewire", "", "Bremsekloss"],
        "part_quantity": ["1", "1", "2"],
    }
    base.update(changes)
    return base


def test_a_valid_form_becomes_a_diagnosis_and_blank_part_rows_are_skipped() -> None:
    diagnosis = parse_repair_form(form())
    assert diagnosis.serial_number == "RS-2231"
    assert diagnosis.decision is RepairDecision.REPAIR_LOCALLY
    assert diagnosis.parts == (PartOrder("W-100", "Bremsewire", 1), PartOrder("B-7", "Bremsekloss", 2))
    assert RepairDiagnosis.from_dict(diagnosis.to_dict()) == diagnosis


def test_parts_are_optional_and_quantity_defaults_to_one() -> None:
    assert parse_repair_form(form(part_number=[], part_description=[], part_quantity=[])).parts == ()
    replaced = parse_repair_form(
        form(decision="bytt_ut", part_number="", part_description="Ny rullator", part_quantity="")
    )
    assert replaced.parts == (PartOrder("", "Ny rullator", 1),)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"serial_number": ""}, "serial_number", "tomt"),
        ({"serial_number": "RS\x002231"}, "serial_number", "kontrolltegn"),
        ({"serial_number": "x" * 65}, "serial_number", "64"),
        ({"fault_description": " "}, "fault_description", "fylles ut"),
        ({"fault_description": "feil\x1b[31m"}, "fault_description", "kontrolltegn"),
        ({"next_step": ""}, "next_step", "fylles ut"),
        ({"decision": "kast"}, "decision", "repareres lokalt"),
        ({"part_quantity": ["1", "1", "0"]}, "parts", "Del nr. 3: antall"),
        ({"part_quantity": ["1", "1", "tre"]}, "parts", "antall"),
        ({"part_number": ["W\x07", "", "B-7"]}, "parts", "Del nr. 1: delenummeret inneholder kontrolltegn"),
        ({"part_description": ["to\nlinjer", "", "x"]}, "parts", "linjeskift"),
        ({"part_quantity": ["1"]}, "parts", "ufullstendig"),
        ({"decision": ["send_inn", "bytt_ut"]}, "decision", "én verdi"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes: dict[str, str | list[str]], field: str, words: str) -> None:
    with pytest.raises(RepairInvalid) as caught:
        parse_repair_form(form(**changes))
    assert caught.value.field == field, caught.value.problems
    assert words.lower() in nb(caught.value.problems[field]).lower()


def test_too_many_parts_are_refused() -> None:
    rows = [("P", "del", "1")] * 21
    with pytest.raises(RepairInvalid) as caught:
        make_diagnosis(serial_number="S1", fault_description="f", decision="send_inn", parts=rows, next_step="n")
    assert caught.value.field == "parts"


def test_all_problems_are_listed_at_once() -> None:
    with pytest.raises(RepairInvalid) as caught:
        parse_repair_form(form(serial_number="", decision="", next_step=""))
    assert set(caught.value.problems) == {"serial_number", "decision", "next_step"}
