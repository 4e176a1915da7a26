"""The audit log as a compliance officer reads it: names and roles resolved at read time, plain-language
actions, Europe/Oslo time, filters (meeting, person, action, period) and CSV/JSON Lines export.

The signed chain keeps ids (``staff-12``, ``org_id=3``) so that it never holds names; the names are looked up
when the page is made, so a renamed person shows under their current name and a chain export stays free of
names. Filters are read from the query string and refused with a clear 400 when malformed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from privacy.records.audit_record import ActorKind, AuditRecord
from privacy.records.ledgers import AuditView
from session.access.service import STAFF_REF, Person
from session.subject_refs import staff_ref
from web.i18n import catalogue, translate

OSLO = ZoneInfo("Europe/Oslo")
_MEETING = re.compile(r"[A-Za-z0-9_-]{1,64}")
EXPORT_FIELDS = ("seq", "time", "action", "what", "who", "meeting", "details")


class FilterInvalid(ValueError):
    """A filter in the query string cannot be read; the message says which, in the page's language."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    meeting: str | None = None
    person: int | None = None
    action: str | None = None
    start: date | None = None
    end: date | None = None
    """Inclusive local dates (Europe/Oslo)."""

    def query(self) -> str:
        """The filter as a query string, for the export links."""
        parts = {
            "meeting": self.meeting,
            "person": self.person,
            "action": self.action,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }
        return "&".join(f"{k}={v}" for k, v in parts.items() if v not in (None, ""))


def parse_filter(query: Mapping[str, str], lang: str) -> AuditFilter:
    def bad(key: str) -> FilterInvalid:
        return FilterInvalid(translate(lang, f"records.filter.bad.{key}"))

    meeting = query.get("meeting") or None
    if meeting is not None and not _MEETING.fullmatch(meeting):
        raise bad("meeting")
    person_raw = query.get("person") or None
    if person_raw is not None and not (person_raw.isdigit() and len(person_raw) <= 12):
        raise bad("person")
    action = query.get("action") or None
    if action is not None and f"records.action.{action}" not in catalogue("nb"):
        raise bad("action")
    try:
        start = date.fromisoformat(query["from"]) if query.get("from") else None
        end = date.fromisoformat(query["to"]) if query.get("to") else None
    except ValueError:
        raise bad("period") from None
    if start and end and end < start:
        raise bad("period")
    return AuditFilter(meeting, int(person_raw) if person_raw else None, action, start, end)


def _created(view: AuditView) -> datetime:
    return datetime.fromisoformat(str(view.created_at))


def matches(view: AuditView, wanted: AuditFilter) -> bool:
    record = view.record
    if wanted.action is not None and record.action != wanted.action:
        return False
    if wanted.person is not None:
        ref = staff_ref(wanted.person)
        in_details = record.details.get("target_staff") == wanted.person or record.details.get("staff_id") == (
            wanted.person
        )
        if not ((record.actor.kind is ActorKind.STAFF and record.actor.ref == ref) or in_details):
            return False
    local_day = _created(view).astimezone(OSLO).date()
    if wanted.start is not None and local_day < wanted.start:
        return False
    return not (wanted.end is not None and local_day > wanted.end)


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    time: str
    """Europe/Oslo, to the second, e.g. «24.11.2025, 10:03:07»."""
    action: str
    what: str
    who: str
    meeting: str
    details: str


def local_time(moment: datetime, lang: str) -> str:
    return str(format_datetime(moment.astimezone(OSLO), "dd.MM.yyyy, HH:mm:ss", tzinfo=OSLO, locale=lang))


def _person_text(staff_id: int, people: Mapping[int, Person], lang: str) -> str:
    person = people.get(staff_id)
    if person is None:
        return translate(lang, "records.person.unknown")
    roles = ", ".join(translate(lang, f"records.role.{role}") for role in person.roles)
    return f"{person.name} ({roles})" if roles else person.name


def _who(record: AuditRecord, people: Mapping[int, Person], lang: str) -> str:
    if record.actor.kind is ActorKind.STAFF and (m := STAFF_REF.fullmatch(record.actor.ref)):
        return _person_text(int(m.group(1)), people, lang)
    if record.actor.kind is ActorKind.ROLE:
        return translate(lang, f"records.participant.{record.actor.ref}")
    return translate(lang, "records.system")


def _details(record: AuditRecord, people: Mapping[int, Person], units: Mapping[int, str], lang: str) -> str:
    parts: list[str] = []
    for key, value in record.details.items():
        label = translate(lang, f"records.detail.{key}")
        if key in ("target_staff", "staff_id") and isinstance(value, int):
            text = _person_text(value, people, lang)
        elif key == "org_id" and isinstance(value, int):
            text = units.get(value, str(value))
        elif key == "role" and isinstance(value, str):
            text = translate(lang, f"records.role.{value}")
        elif isinstance(value, bool):
            text = translate(lang, "records.yes" if value else "records.no")
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = "" if value is None else str(value)
        parts.append(f"{label}: {text}")
    return "; ".join(parts)


def readable_rows(
    views: Sequence[AuditView], people: Mapping[int, Person], units: Mapping[int, str], lang: str
) -> list[AuditRow]:
    rows = []
    for view in views:
        record = view.record
        what = translate(lang, f"records.action.{record.action}")
        rows.append(
            AuditRow(
                seq=view.seq,
                time=local_time(_created(view), lang),
                action=record.action,
                what=record.action if what == f"records.action.{record.action}" else what,
                who=_who(record, people, lang),
                meeting=record.meeting_id or "",
                details=_details(record, people, units, lang),
            )
        )
    return rows


def known_actions(lang: str) -> list[tuple[str, str]]:
    """(action code, plain text) for the filter's choices."""
    prefix = "records.action."
    return sorted(
        ((k[len(prefix) :], v) for k, v in catalogue(lang).items() if k.startswith(prefix)), key=lambda x: x[1]
    )


def to_csv(rows: Sequence[AuditRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        writer.writerow([getattr(row, name) for name in EXPORT_FIELDS])
    return out.getvalue()


def to_jsonl(rows: Sequence[AuditRow]) -> str:
    return "".join(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in rows)
