"""The technician's repair diagnosis: which device, what is wrong, what is decided, which parts, what next.

The device is identified by its serial number, never by its user; every text is checked for identity numbers.
``make_diagnosis`` validates plain values and ``parse_repair_form`` reads a submitted form; both report every
wrong field at once in one ``RepairInvalid`` and return nothing until all is valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from privacy.records.errors import PrivacyRecordError
from privacy.records.validators import refuse_identity_numbers, validate_free_text, validate_serial_number
from privacy.user_text import Message, Param, Text, said_by
from session.planning.errors import RepairInvalid
from session.planning.form_values import FormData, FormShapeError, one

FAULT_MAX = 2000
NEXT_STEP_MAX = 1000
PART_NUMBER_MAX = 64
PART_DESCRIPTION_MAX = 200
MAX_PARTS = 20
MAX_QUANTITY = 99


class RepairDecision(StrEnum):
    REPAIR_LOCALLY = "reparer_lokalt"
    SEND_IN = "send_inn"
    REPLACE = "bytt_ut"


@dataclass(frozen=True, slots=True)
class PartOrder:
    part_number: str
    description: str
    quantity: int


@dataclass(frozen=True, slots=True)
class RepairDiagnosis:
    serial_number: str
    fault_description: str
    decision: RepairDecision
    parts: tuple[PartOrder, ...]
    next_step: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial_number": self.serial_number,
            "fault_description": self.fault_description,
            "decision": self.decision.value,
            "parts": [
                {"part_number": p.part_number, "description": p.description, "quantity": p.quantity} for p in self.parts
            ],
            "next_step": self.next_step,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepairDiagnosis:
        """Read back what ``to_dict`` wrote, validating it again."""
        return make_diagnosis(
            serial_number=str(data["serial_number"]),
            fault_description=str(data["fault_description"]),
            decision=str(data["decision"]),
            parts=[(str(p["part_number"]), str(p["description"]), str(p["quantity"])) for p in data["parts"]],
            next_step=str(data["next_step"]),
        )


class _PartRefused(ValueError):
    """A part line that cannot be ordered; ``text`` says why, naming the line as the form shows it."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.key)
        self.text = text


def _part(position: int, number: str, description: str, quantity: str) -> PartOrder:
    """One part line; _PartRefused with a reason that never repeats the input."""

    def refused(key: str, **params: Param) -> _PartRefused:
        return _PartRefused(Text("err.repair.part", position=position, reason=Text(key, **params)))

    number = number.strip()
    if len(number) > PART_NUMBER_MAX:
        raise refused("err.repair.part.number_too_long", max=PART_NUMBER_MAX)
    if number and not number.isprintable():
        raise refused("err.repair.part.number_chars")
    try:
        refuse_identity_numbers(Text("field.part_number"), number)
        text = validate_free_text(
            Text("field.part_description"), description, max_length=PART_DESCRIPTION_MAX, required=False
        )
    except PrivacyRecordError as exc:
        raise _PartRefused(Text("err.repair.part", position=position, reason=said_by(exc))) from None
    if "\n" in text or "\t" in text:
        raise refused("err.repair.part.one_line")
    if not number and not text:
        raise refused("err.repair.part.empty")
    count = quantity.strip() or "1"
    if not (count.isascii() and count.isdigit()) or not 1 <= int(count) <= MAX_QUANTITY:
        raise refused("err.repair.part.quantity", max=MAX_QUANTITY)
    return PartOrder(number, text, int(count))


def make_diagnosis(
    *,
    serial_number: str,
    fault_description: str,
    decision: str,
    parts: Sequence[tuple[str, str, str]],
    next_step: str,
) -> RepairDiagnosis:
    """A validated diagnosis, or RepairInvalid listing every wrong field. ``parts`` are (part number,
    description, quantity as typed) rows; rows without number and description are skipped, and messages count
    rows as the form shows them."""
    problems: dict[str, Message] = {}
    serial = ""
    try:
        serial = validate_serial_number(serial_number)
    except PrivacyRecordError as exc:
        problems["serial_number"] = said_by(exc)
    texts: dict[str, str] = {}
    for field, value, limit in (
        ("fault_description", fault_description, FAULT_MAX),
        ("next_step", next_step, NEXT_STEP_MAX),
    ):
        try:
            texts[field] = validate_free_text(Text(f"field.{field}"), value, max_length=limit)
        except PrivacyRecordError as exc:
            problems[field] = said_by(exc)
    chosen: RepairDecision | None = None
    try:
        chosen = RepairDecision(decision.strip())
    except ValueError:
        problems["decision"] = Text("err.repair.decision")
    rows = [(position, row) for position, row in enumerate(parts, start=1) if any(c.strip() for c in row[:2])]
    orders: list[PartOrder] = []
    if len(rows) > MAX_PARTS:
        problems["parts"] = Text("err.repair.too_many_parts", max=MAX_PARTS)
    else:
        for position, (number, description, quantity) in rows:
            try:
                orders.append(_part(position, number, description, quantity))
            except _PartRefused as exc:
                problems.setdefault("parts", exc.text)
    if problems or chosen is None:
        raise RepairInvalid.from_problems(problems)
    return RepairDiagnosis(serial, texts["fault_description"], chosen, tuple(orders), texts["next_step"])


def parse_repair_form(form: FormData) -> RepairDiagnosis:
    """Form keys: ``serial_number``, ``fault_description``, ``decision``, ``next_step`` and the part rows as
    three repeated keys of equal count, ``part_number``, ``part_description``, ``part_quantity``."""
    try:
        values = {key: one(form, key) for key in ("serial_number", "fault_description", "decision", "next_step")}
    except FormShapeError as exc:
        field = str(exc)
        raise RepairInvalid(field, Text("err.input.one_value", field=Text(f"field.{field}"))) from None
    columns = []
    for key in ("part_number", "part_description", "part_quantity"):
        value = form.get(key, ())
        columns.append([value] if isinstance(value, str) else list(value))
    count = max(len(c) for c in columns)
    if count > MAX_PARTS * 2 or any(len(c) not in (0, count) for c in columns):
        raise RepairInvalid("parts", Text("err.repair.parts_incomplete"))
    rows = [tuple(c[i] if c else "" for c in columns) for i in range(count)]
    return make_diagnosis(
        serial_number=values["serial_number"],
        fault_description=values["fault_description"],
        decision=values["decision"],
        parts=[(r[0], r[1], r[2]) for r in rows],
        next_step=values["next_step"],
    )
