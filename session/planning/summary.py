"""The meeting summary the host confirms for the journal: JSON for the journal system, HTML for print.

Only what the case needs: topic and kind, when, which roles were present (on and off camera, counted, never
named), which consents were given (by whom as a role, in what form, to what and for which purpose), the outcome,
the agreed next contact, the equipment and an optional repair diagnosis. The input types have no place for a
name or a chat line, so none can leak into the export; every free text is checked for identity numbers again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import jinja2

from privacy.records.consent import ConsentForm, ConsentStatus, Giver, Scope
from privacy.records.errors import PrivacyRecordError
from privacy.records.validators import validate_free_text, validate_reference, validate_serial_number
from privacy.user_text import Message, Text, Voice, only_said, said_by
from session.call.roster import OFF_CAMERA_ROLES
from session.meetings import MEETING_KINDS
from session.planning.errors import SummaryInvalid
from session.planning.nb_format import format_clock, format_day
from session.planning.plan import OSLO, ParticipantKind
from session.planning.repair import RepairDiagnosis
from session.roles import Role

SCHEMA = "samhandling.summary/1"
OUTCOME_MAX = 4000
NEXT_CONTACT_MAX = 500
MAX_COUNT = 50

ROLE_ORDER: tuple[str, ...] = (*(kind.value for kind in ParticipantKind), "verge", "helsepersonell", "tolk", "annen")
"""The order roles are listed in a summary: those planned for, then the others present off camera."""
SUMMARY_ROLES = frozenset({*ParticipantKind, *OFF_CAMERA_ROLES})
PARTICIPANT_ROLES = frozenset(kind.value for kind in ParticipantKind)


@dataclass(frozen=True, slots=True)
class Presence:
    """A role that was present: ``count`` people, on camera (connected) or off camera in the room."""

    role: str
    on_camera: bool
    count: int = 1


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One consent as the journal needs it: whose (role), given by whom, how, to what, for what."""

    subject_role: str
    giver: Giver
    form: ConsentForm
    scopes: frozenset[Scope]
    purpose: str
    given_at: datetime
    withdrawn_scopes: frozenset[Scope] = frozenset()


@dataclass(frozen=True, slots=True)
class MeetingSummary:
    meeting_id: str
    kind: str
    topic: str
    starts_at: datetime
    ends_at: datetime | None
    present: tuple[Presence, ...]
    consents: tuple[ConsentEntry, ...]
    outcome: str
    next_contact: str
    next_contact_on: date | None
    equipment: tuple[str, ...]
    repair: RepairDiagnosis | None
    confirmed_at: datetime
    confirmed_by_role: Role


def consent_entries(statuses: Iterable[ConsentStatus], role_of: Mapping[str, str]) -> list[ConsentEntry]:
    """The ledger's consents of a meeting (``ConsentState.consents``) with participant references replaced
    by roles (``role_of``: subject_ref -> role); a reference without a role counts as the user."""
    return [
        ConsentEntry(
            subject_role=role_of.get(status.given.subject_ref, Role.BRUKER.value),
            giver=status.given.giver,
            form=status.given.form,
            scopes=status.given.scopes,
            purpose=status.given.purpose,
            given_at=status.given.given_at,
            withdrawn_scopes=frozenset(status.withdrawn),
        )
        for status in statuses
    ]


def _aggregate(present: Iterable[Presence], problems: dict[str, Message]) -> tuple[Presence, ...]:
    counts: dict[tuple[str, bool], int] = {}
    for item in present:
        if item.role not in SUMMARY_ROLES:
            problems.setdefault("present", Text("err.summary.present_role"))
        elif not 1 <= item.count <= MAX_COUNT:
            problems.setdefault("present", Text("err.summary.present_count"))
        else:
            counts[(item.role, item.on_camera)] = counts.get((item.role, item.on_camera), 0) + item.count
    order = {role: index for index, role in enumerate(ROLE_ORDER)}
    keys = sorted(counts, key=lambda k: (not k[1], order.get(k[0], len(order)), k[0]))
    return tuple(Presence(role, on_camera, counts[(role, on_camera)]) for role, on_camera in keys)


def build_summary(
    *,
    meeting_id: str,
    kind: str,
    topic: str,
    starts_at: datetime,
    ends_at: datetime | None,
    present: Iterable[Presence],
    consents: Iterable[ConsentEntry],
    outcome: str,
    next_contact: str,
    confirmed_at: datetime,
    confirmed_by_role: Role,
    next_contact_on: date | None = None,
    equipment: Iterable[str] = (),
    repair: RepairDiagnosis | None = None,
) -> MeetingSummary:
    """A validated summary; SummaryInvalid names the first wrong field and lists all. ``outcome`` and
    ``next_contact`` are what the host typed; everything else comes from the meeting's records."""
    problems: dict[str, Message] = {}
    texts: dict[str, str] = {}
    for field, value, limit in (
        ("topic", topic, 200),
        ("outcome", outcome, OUTCOME_MAX),
        ("next_contact", next_contact, NEXT_CONTACT_MAX),
    ):
        try:
            texts[field] = validate_free_text(Text(f"field.{field}"), value, max_length=limit)
        except PrivacyRecordError as exc:
            problems[field] = said_by(exc)
    try:
        validate_reference(Text("field.meeting_id"), meeting_id)
    except PrivacyRecordError as exc:
        problems["meeting_id"] = said_by(exc)
    if kind not in MEETING_KINDS:
        problems["kind"] = Text("err.summary.kind")
    for moment in (starts_at, ends_at, confirmed_at):
        if moment is not None and moment.tzinfo is None:
            problems.setdefault("starts_at", Text("err.summary.no_timezone"))
    if ends_at is not None and starts_at.tzinfo is not None and ends_at.tzinfo is not None and ends_at < starts_at:
        problems.setdefault("ends_at", Text("err.summary.ends_before_start"))
    roles = _aggregate(present, problems)
    entries: list[ConsentEntry] = []
    for entry in consents:
        try:
            purpose = validate_free_text(Text("field.purpose"), entry.purpose, max_length=200)
        except PrivacyRecordError as exc:
            problems.setdefault("consents", said_by(exc))
            continue
        if entry.subject_role not in SUMMARY_ROLES:
            problems.setdefault("consents", Text("err.summary.consent_role"))
        entries.append(
            ConsentEntry(
                entry.subject_role,
                entry.giver,
                entry.form,
                entry.scopes,
                purpose,
                entry.given_at,
                entry.withdrawn_scopes,
            )
        )
    serials: list[str] = []
    for value in equipment:
        try:
            serials.append(validate_serial_number(value))
        except PrivacyRecordError as exc:
            problems.setdefault("equipment", said_by(exc))
    if problems:
        raise SummaryInvalid.from_problems(problems)
    return MeetingSummary(
        meeting_id=meeting_id,
        kind=kind,
        topic=texts["topic"],
        starts_at=starts_at.astimezone(UTC),
        ends_at=ends_at.astimezone(UTC) if ends_at is not None else None,
        present=roles,
        consents=tuple(entries),
        outcome=texts["outcome"],
        next_contact=texts["next_contact"],
        next_contact_on=next_contact_on,
        equipment=tuple(dict.fromkeys(serials)),
        repair=repair,
        confirmed_at=confirmed_at.astimezone(UTC),
        confirmed_by_role=confirmed_by_role,
    )


# --- JSON ---------------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def summary_to_dict(summary: MeetingSummary) -> dict[str, Any]:
    """The journal export: stable keys, UTC times with "Z", the local meeting date, sorted scopes."""
    return {
        "schema": SCHEMA,
        "meeting_id": summary.meeting_id,
        "kind": summary.kind,
        "topic": summary.topic,
        "meeting_date": summary.starts_at.astimezone(OSLO).date().isoformat(),
        "starts_at": _iso(summary.starts_at),
        "ends_at": _iso(summary.ends_at),
        "present": [{"role": p.role, "on_camera": p.on_camera, "count": p.count} for p in summary.present],
        "consents": [
            {
                "subject_role": c.subject_role,
                "giver": c.giver.value,
                "form": c.form.value,
                "scopes": sorted(s.value for s in c.scopes),
                "purpose": c.purpose,
                "given_at": _iso(c.given_at),
                "withdrawn_scopes": sorted(s.value for s in c.withdrawn_scopes),
            }
            for c in summary.consents
        ],
        "outcome": summary.outcome,
        "next_contact": summary.next_contact,
        "next_contact_on": summary.next_contact_on.isoformat() if summary.next_contact_on else None,
        "equipment": list(summary.equipment),
        "repair": summary.repair.to_dict() if summary.repair is not None else None,
        "confirmed_at": _iso(summary.confirmed_at),
        "confirmed_by_role": summary.confirmed_by_role.value,
    }


def summary_to_json(summary: MeetingSummary) -> str:
    return json.dumps(summary_to_dict(summary), ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def summary_from_json(text: str) -> MeetingSummary:
    """Read a stored export back (validating it again), so the printable page can be made from the record."""
    data = json.loads(text)
    if data.get("schema") != SCHEMA:
        raise SummaryInvalid("schema", Text("err.summary.schema"))
    return build_summary(
        meeting_id=data["meeting_id"],
        kind=data["kind"],
        topic=data["topic"],
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]) if data["ends_at"] else None,
        present=[Presence(p["role"], bool(p["on_camera"]), int(p["count"])) for p in data["present"]],
        consents=[
            ConsentEntry(
                subject_role=c["subject_role"],
                giver=Giver(c["giver"]),
                form=ConsentForm(c["form"]),
                scopes=frozenset(Scope(s) for s in c["scopes"]),
                purpose=c["purpose"],
                given_at=datetime.fromisoformat(c["given_at"]),
                withdrawn_scopes=frozenset(Scope(s) for s in c["withdrawn_scopes"]),
            )
            for c in data["consents"]
        ],
        outcome=data["outcome"],
        next_contact=data["next_contact"],
        next_contact_on=date.fromisoformat(data["next_contact_on"]) if data["next_contact_on"] else None,
        equipment=data["equipment"],
        repair=RepairDiagnosis.from_dict(data["repair"]) if data["repair"] else None,
        confirmed_at=datetime.fromisoformat(data["confirmed_at"]),
        confirmed_by_role=Role(data["confirmed_by_role"]),
    )


# --- printable HTML -----------------------------------------------------------------------------------------

_TEMPLATE = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t("sum.title") }} – {{ s.topic }}</title>
<style>
  body { font-family: "Source Sans Pro", Arial, sans-serif; font-size: 12pt; line-height: 1.45; color: #000;
         max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 18pt; margin-bottom: .25rem; } h2 { font-size: 13pt; margin: 1.5rem 0 .4rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
  dt { font-weight: 600; } dd { margin: 0; white-space: pre-wrap; }
  table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #555; padding: .3rem .5rem;
  text-align: left; vertical-align: top; } .text { white-space: pre-wrap; }
  @page { size: A4; margin: 2cm; }
  @media print { body { margin: 0; max-width: none; font-size: 11pt; } h2, table, dl { break-inside: avoid; } }
</style>
</head>
<body>
<h1>{{ t("sum.title") }}</h1>
<dl>
  <dt>{{ t("sum.topic") }}</dt><dd>{{ s.topic }}</dd>
  <dt>{{ t("sum.kind") }}</dt><dd>{{ kind_label }}</dd>
  <dt>{{ t("sum.date") }}</dt><dd>{{ when }}</dd>
  <dt>{{ t("sum.meeting_id") }}</dt><dd>{{ s.meeting_id }}</dd>
</dl>
<h2>{{ t("sum.present") }}</h2>
<table>
  <thead><tr><th scope="col">{{ t("sum.role") }}</th>
  <th scope="col">{{ t("sum.count") }}</th>
  <th scope="col">{{ t("sum.took_part") }}</th></tr></thead>
  <tbody>
  {% for p in s.present %}<tr><td>{{ role_label(p.role) }}</td><td>{{ p.count }}</td>
  <td>{{ t("sum.on_video") if p.on_camera else t("sum.off_camera") }}</td></tr>
  {% endfor %}</tbody>
</table>
<h2>{{ t("sum.consents") }}</h2>
{% if s.consents %}<table>
  <thead><tr><th scope="col">{{ t("sum.concerns") }}</th>
  <th scope="col">{{ t("sum.given_by") }}</th>
  <th scope="col">{{ t("sum.form") }}</th>
  <th scope="col">{{ t("sum.scope") }}</th><th scope="col">{{ t("sum.purpose") }}</th></tr></thead>
  <tbody>
  {% for c in s.consents %}<tr><td>{{ role_label(c.subject_role) }}</td><td>{{ t("sum.giver." ~ c.giver.value) }}</td>
  <td>{{ t("sum.form." ~ c.form.value) }}</td><td>{{ scopes(c) }}</td><td>{{ c.purpose }}</td></tr>
  {% endfor %}</tbody>
</table>{% else %}<p>{{ t("sum.no_consents") }}</p>{% endif %}
<h2>{{ t("sum.outcome") }}</h2>
<p class="text">{{ s.outcome }}</p>
<h2>{{ t("sum.next_contact") }}</h2>
<p class="text">{{ s.next_contact }}{% if s.next_contact_on %} ({{ next_on }}){% endif %}</p>
{% if s.equipment %}<h2>{{ t("sum.equipment") }}</h2>
<ul>{% for serial in s.equipment %}<li>{{ t("sum.serial") }} {{ serial }}</li>{% endfor %}</ul>{% endif %}
{% if s.repair %}<h2>{{ t("sum.repair") }}</h2>
<dl>
  <dt>{{ t("sum.serial") }}</dt><dd>{{ s.repair.serial_number }}</dd>
  <dt>{{ t("sum.fault") }}</dt><dd>{{ s.repair.fault_description }}</dd>
  <dt>{{ t("sum.decision") }}</dt><dd>{{ t("decision." ~ s.repair.decision.value) }}</dd>
  <dt>{{ t("sum.next_step") }}</dt><dd>{{ s.repair.next_step }}</dd>
</dl>
{% if s.repair.parts %}<table>
  <thead><tr><th scope="col">{{ t("sum.part_number") }}</th>
  <th scope="col">{{ t("sum.description") }}</th>
  <th scope="col">{{ t("sum.count") }}</th></tr></thead>
  <tbody>{% for part in s.repair.parts %}<tr><td>{{ part.part_number }}</td><td>{{ part.description }}</td>
  <td>{{ part.quantity }}</td></tr>{% endfor %}</tbody>
</table>{% endif %}{% endif %}
<p>{{ t("sum.confirmed", when=confirmed, role=role_label(s.confirmed_by_role.value)) }}</p>
</body>
</html>
"""

_ENV = jinja2.Environment(
    autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True, finalize=only_said
)
_COMPILED = _ENV.from_string(_TEMPLATE)


def _scopes(entry: ConsentEntry, voice: Voice) -> str:
    parts = []
    for scope in sorted(entry.scopes):
        label = voice(f"sum.scope.{scope.value}")
        parts.append(voice("sum.withdrawn", scope=label) if scope in entry.withdrawn_scopes else label)
    return ", ".join(parts)


def _moment(moment: datetime, voice: Voice) -> str:
    local = moment.astimezone(OSLO)
    return voice("sum.at", day=format_day(local.date(), year=True, locale=voice.lang), time=format_clock(local))


def _role_label(role: str, voice: Voice) -> str:
    if role in PARTICIPANT_ROLES:
        return voice(f"participant.{role}")
    return voice(f"offrole.{role}") if role in OFF_CAMERA_ROLES else role


def summary_html(summary: MeetingSummary, *, voice: Voice) -> str:
    """A printable page (A4) in ``voice``'s language, times in Europe/Oslo; every value is HTML-escaped by the
    template engine. The topic, outcome and other free text stay as the host wrote them."""
    when = _moment(summary.starts_at, voice)
    if summary.ends_at is not None:
        when += f"–{format_clock(summary.ends_at.astimezone(OSLO))}"
    next_on = summary.next_contact_on
    return _COMPILED.render(
        s=summary,
        lang=voice.lang,
        t=voice,
        kind_label=voice(f"kind.{summary.kind}") if summary.kind in MEETING_KINDS else summary.kind,
        when=when,
        confirmed=_moment(summary.confirmed_at, voice),
        next_on=format_day(next_on, year=True, locale=voice.lang) if next_on else "",
        role_label=lambda role: _role_label(role, voice),
        scopes=lambda entry: _scopes(entry, voice),
    )
