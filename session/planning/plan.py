"""A meeting plan as the routine asks for it, parsed and validated from a submitted form.

The routine prepares each meeting: kind, time, case topic, what will be filmed and who holds the camera, who
takes part (by role, never by name), drawings or pictures to look at (titles only) and the equipment by serial
number. ``parse_plan`` checks every field before returning, and reports every problem at once in one
``PlanInvalid``, so that nothing is stored halfway. Every free text goes through the identity-number refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from privacy.records.errors import PrivacyRecordError
from privacy.records.validators import validate_free_text, validate_serial_number
from privacy.user_text import Message, Text, said_by
from session.departments import Department
from session.meetings import MEETING_KINDS
from session.planning.errors import PlanInvalid
from session.planning.form_values import FormData, FormShapeError, many, one
from session.roles import Role

_T = TypeVar("_T")
OSLO = ZoneInfo("Europe/Oslo")
TOPIC_MAX = 200
FILMING_MAX = 1000
DRAWING_TITLE_MAX = 200
MAX_DRAWINGS = 20
MAX_SERIAL_NUMBERS = 20
PAST_GRACE = timedelta(minutes=5)
"""A meeting planned to start a few minutes ago (the form was slow to fill in) is still accepted."""
MIN_DURATION = timedelta(minutes=5)
MAX_DURATION = timedelta(hours=8)
MAX_AHEAD = timedelta(days=366)


class ParticipantKind(StrEnum):
    """Who takes part, by role: the meeting roles, the centre's departments, Husbanken and a supplier."""

    FORMIDLER = Role.FORMIDLER.value
    RADGIVER = Role.RADGIVER.value
    TEKNIKER = Role.TEKNIKER.value
    BRUKER = Role.BRUKER.value
    PARORENDE = Role.PARORENDE.value
    LEVERANDOR = Role.LEVERANDOR.value
    HUSBANKEN = "husbanken"
    TEKNISK = Department.TEKNISK.value
    BOLIG = Department.BOLIG.value
    MOBILITET = Department.MOBILITET.value
    KOMMUNIKASJON = Department.KOMMUNIKASJON.value


@dataclass(frozen=True, slots=True)
class MeetingPlan:
    """A validated plan. Times are timezone-aware UTC; lists keep the order given, without duplicates."""

    kind: str
    starts_at: datetime
    ends_at: datetime
    topic: str
    filming: str
    camera_operator: Role
    participants: tuple[ParticipantKind, ...]
    drawings: tuple[str, ...] = ()
    serial_numbers: tuple[str, ...] = ()

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at

    def to_form(self, tz: tzinfo = OSLO) -> dict[str, str | list[str]]:
        """The plan as form values (local times without offset, as ``<input type="datetime-local">`` shows
        them), so that an edit form can be filled in and submitted back through ``parse_plan``."""
        return {
            "kind": self.kind,
            "starts_at": self.starts_at.astimezone(tz).replace(tzinfo=None).isoformat(timespec="minutes"),
            "ends_at": self.ends_at.astimezone(tz).replace(tzinfo=None).isoformat(timespec="minutes"),
            "topic": self.topic,
            "filming": self.filming,
            "camera_operator": self.camera_operator.value,
            "participants": [p.value for p in self.participants],
            "drawings": list(self.drawings),
            "serial_numbers": list(self.serial_numbers),
        }


class _Problems:
    """Collects one message per field; the first problem found for a field is the one reported."""

    def __init__(self) -> None:
        self.by_field: dict[str, Message] = {}

    def add(self, field: str, message: Message) -> None:
        self.by_field.setdefault(field, message)

    def __bool__(self) -> bool:
        return bool(self.by_field)


class LocalTimeRefused(ValueError):
    """A typed time that cannot be used; ``key`` is the catalogue text (with a ``{field}`` placeholder)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_local_time(value: str, tz: tzinfo) -> datetime:
    """An ISO 8601 date and time; without an offset it is wall-clock time in ``tz``. LocalTimeRefused when it is
    not a time, or names a wall-clock time that the change to or from summer time skips or repeats
    (02.00–03.00 on the last Sunday of March and October in Norway)."""
    text = value.strip()
    if not text:
        raise LocalTimeRefused("err.input.required")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LocalTimeRefused("err.time.invalid") from None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    first, second = moment.replace(tzinfo=tz, fold=0), moment.replace(tzinfo=tz, fold=1)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment:
        raise LocalTimeRefused("err.time.skipped")
    if first.utcoffset() != second.utcoffset():
        raise LocalTimeRefused("err.time.repeated")
    return first.astimezone(UTC)


def _free_text(problems: _Problems, field: str, value: str, *, max_length: int, single_line: bool) -> str:
    label = Text(f"field.{field}")
    try:
        cleaned = validate_free_text(label, value, max_length=max_length)
    except PrivacyRecordError as exc:
        problems.add(field, said_by(exc))
        return ""
    if single_line and ("\n" in cleaned or "\t" in cleaned):
        problems.add(field, Text("err.input.one_line", field=label))
        return ""
    return cleaned


def _read(problems: _Problems, form: FormData, field: str) -> str:
    try:
        return one(form, field)
    except FormShapeError:
        problems.add(field, Text("err.input.one_value", field=Text(f"field.{field}")))
        return ""


def _read_list(problems: _Problems, form: FormData, field: str, limit: int) -> list[str]:
    try:
        values = many(form, field)
    except FormShapeError:
        values = []
        problems.add(field, Text("err.plan.too_many_entries", field=Text(f"field.{field}")))
    if len(values) > limit:
        problems.add(field, Text("err.plan.max_entries", field=Text(f"field.{field}"), max=limit))
        return []
    return values


def _unique(values: list[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(values))


def _times(problems: _Problems, form: FormData, now: datetime, tz: tzinfo) -> tuple[datetime, datetime] | None:
    parsed: dict[str, datetime] = {}
    for field in ("starts_at", "ends_at"):
        try:
            parsed[field] = parse_local_time(_read(problems, form, field), tz)
        except LocalTimeRefused as exc:
            problems.add(field, Text(exc.key, field=Text(f"field.{field}")))
    if len(parsed) < 2:
        return None
    starts_at, ends_at = parsed["starts_at"], parsed["ends_at"]
    if starts_at < now - PAST_GRACE:
        problems.add("starts_at", Text("err.plan.in_past"))
    elif starts_at > now + MAX_AHEAD:
        problems.add("starts_at", Text("err.plan.too_far_ahead"))
    if ends_at <= starts_at:
        problems.add("ends_at", Text("err.plan.ends_before_start"))
    elif ends_at - starts_at < MIN_DURATION:
        problems.add("ends_at", Text("err.plan.too_short", minutes=MIN_DURATION.seconds // 60))
    elif ends_at - starts_at > MAX_DURATION:
        problems.add("ends_at", Text("err.plan.too_long", hours=MAX_DURATION.seconds // 3600))
    return starts_at, ends_at


def parse_plan(form: FormData, *, now: datetime, tz: tzinfo = OSLO) -> MeetingPlan:
    """The plan described by ``form``, or PlanInvalid naming the first wrong field and listing all of them.

    Form keys: ``kind``, ``starts_at``, ``ends_at`` (ISO 8601; without offset read as wall-clock time in
    ``tz``), ``topic``, ``filming``, ``camera_operator`` (a Role value), ``participants`` (ParticipantKind
    values), ``drawings`` (titles) and ``serial_numbers``; the last three repeated or one per line. Other keys
    are ignored. ``now`` must be timezone-aware; it decides what "in the past" means.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    problems = _Problems()

    kind = _read(problems, form, "kind").strip()
    if kind not in MEETING_KINDS:
        problems.add("kind", Text("err.plan.kind"))

    times = _times(problems, form, now, tz)
    topic = _free_text(problems, "topic", _read(problems, form, "topic"), max_length=TOPIC_MAX, single_line=True)
    filming = _free_text(
        problems, "filming", _read(problems, form, "filming"), max_length=FILMING_MAX, single_line=False
    )

    participants: list[ParticipantKind] = []
    for value in _read_list(problems, form, "participants", len(ParticipantKind)):
        try:
            participants.append(ParticipantKind(value.strip()))
        except ValueError:
            problems.add("participants", Text("err.plan.participant_unknown"))
    if not participants:
        problems.add("participants", Text("err.plan.no_participants"))

    operator: Role | None = None
    operator_value = _read(problems, form, "camera_operator").strip()
    try:
        operator = Role(operator_value)
    except ValueError:
        problems.add("camera_operator", Text("err.plan.camera_operator"))
    if operator is not None and participants and ParticipantKind(operator.value) not in participants:
        problems.add("camera_operator", Text("err.plan.camera_operator_not_participant"))

    drawings: list[str] = []
    for title in _read_list(problems, form, "drawings", MAX_DRAWINGS):
        drawings.append(_free_text(problems, "drawings", title, max_length=DRAWING_TITLE_MAX, single_line=True))

    serials: list[str] = []
    for position, value in enumerate(_read_list(problems, form, "serial_numbers", MAX_SERIAL_NUMBERS), start=1):
        try:
            serials.append(validate_serial_number(value))
        except PrivacyRecordError as exc:
            problems.add("serial_numbers", Text("err.plan.serial", position=position, reason=said_by(exc)))
    if kind == "reparasjon" and not serials and "serial_numbers" not in problems.by_field:
        problems.add("serial_numbers", Text("err.plan.repair_needs_serial"))

    if problems or times is None or operator is None:
        raise PlanInvalid.from_problems(problems.by_field)
    return MeetingPlan(
        kind=kind,
        starts_at=times[0],
        ends_at=times[1],
        topic=topic,
        filming=filming,
        camera_operator=operator,
        participants=_unique(participants),
        drawings=_unique(drawings),
        serial_numbers=_unique(serials),
    )
