"""Meeting invitations as iCalendar (RFC 5545, iTIP RFC 5546) and as short Norwegian text, written by hand.

One meeting has one UID for its whole life; every change is sent again with the same UID and a higher
SEQUENCE (METHOD:REQUEST), and a cancellation is METHOD:CANCEL with STATUS:CANCELLED and a higher SEQUENCE
still, which is what Outlook, Google and the phones' calendars use to update or remove the entry they already
hold. Times are written in UTC with "Z", so no VTIMEZONE block is needed. Lines end in CRLF and are folded at
75 octets without splitting a UTF-8 character. The event is CLASS:PRIVATE so that shared calendars show only
"busy". RFC 5546 wants an ORGANIZER (and an ATTENDEE) on REQUEST and CANCEL; they are optional here, but
clients handle updates best when an organizer is given.

A small reader (``parse_ics``) unfolds and unescapes what was written; the tests read every invitation back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from session.nb_format import format_span
from session.planning import KIND_LABELS, OSLO, PARTICIPANT_LABELS, MeetingPlan
from session.planning_errors import IcsInvalid
from session.roles import LABELS
from session.room_code import RoomCredentials

CRLF = "\r\n"
MAX_LINE_OCTETS = 75
PRODID = "-//NAV hjelpemiddelsentral//Samhandling//NB"
_UID_PART = re.compile(r"[A-Za-z0-9._\-]{1,100}")
_EMAIL = re.compile(r"[^@\s<>\"(),;:\\]{1,64}@[A-Za-z0-9.\-]{1,190}")


class IcsMethod(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


@dataclass(frozen=True, slots=True)
class CalendarAddress:
    """An organizer or attendee: an e-mail address and, if wanted, a display name (staff only, never the user)."""

    email: str
    name: str | None = None

    def __post_init__(self) -> None:
        if not _EMAIL.fullmatch(self.email):
            raise ValueError("Ugyldig e-postadresse.")


@dataclass(frozen=True, slots=True)
class InvitationDetails:
    """Everything an invitation says. ``sequence`` is the meeting's current change number (0 when first sent)."""

    uid: str
    sequence: int
    plan: MeetingPlan
    join_url: str | None
    """The personal join link; None only for a cancellation (links are stored hashed, so a change re-issues it)."""
    credentials: RoomCredentials | None
    """Room code + PIN; None only for a cancellation (the PIN is stored hashed, so a change issues a new one)."""
    fallback_address: str
    """Where the room code and PIN are typed (a short web address); also the way in if the link fails."""
    precheck_url: str | None = None
    organizer: CalendarAddress | None = None
    attendees: tuple[CalendarAddress, ...] = ()

    def __post_init__(self) -> None:
        if self.sequence < 0:
            raise ValueError("sequence must not be negative")
        for url in (self.join_url or "x", self.fallback_address, self.precheck_url or "x"):
            if not url or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in url):
                raise ValueError("addresses must be non-empty and free of control characters")

    @property
    def title(self) -> str:
        return f"Samhandlingsmøte: {self.plan.topic}"

    def way_in(self) -> tuple[str, RoomCredentials]:
        """The join link and room credentials, which every invitation (not a cancellation) must carry."""
        if self.join_url is None or self.credentials is None:
            raise ValueError("an invitation needs the join link and the room code with its PIN")
        return self.join_url, self.credentials


def meeting_uid(meeting_id: str, domain: str) -> str:
    """The UID of a meeting's calendar entry: the same for every update and the cancellation of that meeting."""
    if not _UID_PART.fullmatch(meeting_id) or not _UID_PART.fullmatch(domain):
        raise ValueError("meeting id and domain must be plain identifiers")
    return f"samhandling-{meeting_id}@{domain}"


# --- writing ------------------------------------------------------------------------------------------------


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped; other control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _param_value(value: str) -> str:
    # DQUOTE cannot be escaped inside a parameter value, so it is dropped, as are control characters.
    value = "".join(ch for ch in value if ch != '"' and unicodedata.category(ch) != "Cc")
    return f'"{value}"' if any(ch in value for ch in ":;,") else value


def fold_line(line: str) -> str:
    """``line`` folded into physical lines of at most 75 octets (CRLF + one space before each continuation),
    cutting only between characters so that no UTF-8 sequence is split, and never inside a backslash escape
    (allowed by the RFC, but some clients unescape before they unfold)."""
    units = re.findall(r"\\.|.", line, flags=re.DOTALL)
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, MAX_LINE_OCTETS
    for unit in units:
        width = len(unit.encode())
        if size + width > limit and current:
            pieces.append("".join(current))
            current, size, limit = [], 0, MAX_LINE_OCTETS - 1
        current.append(unit)
        size += width
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces)


def _format_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times in an invitation must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _address_line(name: str, address: CalendarAddress, extra: Sequence[tuple[str, str]]) -> str:
    params = "".join(f";{key}={_param_value(value)}" for key, value in extra)
    if address.name:
        params = f";CN={_param_value(address.name)}" + params
    return f"{name}{params}:mailto:{address.email}"


def description_text(details: InvitationDetails, *, cancelled: bool = False) -> str:
    """The DESCRIPTION: the link, the alternative way in, the pre-call check, and what was agreed."""
    plan = details.plan
    lines = ["Møtet er avlyst." if cancelled else "Velkommen til samhandlingsmøte.", ""]
    lines += [f"Tema: {plan.topic}", f"Møtetype: {KIND_LABELS.get(plan.kind, plan.kind)}"]
    if not cancelled:
        join_url, credentials = details.way_in()
        lines += [
            "",
            f"Bli med: {join_url}",
            f"Virker ikke lenken? Gå til {details.fallback_address} og skriv inn "
            f"romkode {credentials.display_code} og PIN {credentials.pin}.",
        ]
        if details.precheck_url:
            lines.append(f"Test kamera, mikrofon og nett før møtet: {details.precheck_url}")
        lines += [
            "",
            f"Dette skal filmes: {plan.filming}",
            f"Den som filmer: {LABELS['nb'][plan.camera_operator]}",
            "Deltakere: " + "; ".join(PARTICIPANT_LABELS[p] for p in plan.participants),
        ]
        if plan.drawings:
            lines.append("Tegninger og bilder: " + "; ".join(plan.drawings))
        if plan.serial_numbers:
            lines.append("Utstyr (serienummer): " + ", ".join(plan.serial_numbers))
        lines += ["", "Ansikter anonymiseres i møtet. Ikke send personopplysninger som svar på denne invitasjonen."]
    return "\n".join(lines)


def _calendar(details: InvitationDetails, *, method: IcsMethod, dtstamp: datetime) -> str:
    cancelled = method is IcsMethod.CANCEL
    plan = details.plan
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method.value}",
        "BEGIN:VEVENT",
        f"UID:{escape_text(details.uid)}",
        f"DTSTAMP:{_format_utc(dtstamp)}",
        f"DTSTART:{_format_utc(plan.starts_at)}",
        f"DTEND:{_format_utc(plan.ends_at)}",
        f"SEQUENCE:{details.sequence}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        f"SUMMARY;LANGUAGE=nb:{escape_text(details.title)}",
        f"DESCRIPTION;LANGUAGE=nb:{escape_text(description_text(details, cancelled=cancelled))}",
        "CLASS:PRIVATE",
        f"TRANSP:{'TRANSPARENT' if cancelled else 'OPAQUE'}",
    ]
    if not cancelled:
        join_url, _ = details.way_in()
        lines += [f"LOCATION:{escape_text(join_url)}", f"URL:{join_url}"]
    if details.organizer is not None:
        lines.append(_address_line("ORGANIZER", details.organizer, ()))
    partstat = [("ROLE", "REQ-PARTICIPANT"), ("PARTSTAT", "NEEDS-ACTION"), ("RSVP", "TRUE")]
    for attendee in details.attendees:
        lines.append(_address_line("ATTENDEE", attendee, () if cancelled else partstat))
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold_line(line) + CRLF for line in lines)


def invitation_ics(details: InvitationDetails, *, dtstamp: datetime) -> str:
    """A new or changed meeting (METHOD:REQUEST). Send it with ``Content-Type: text/calendar;
    charset=utf-8; method=REQUEST``. ``dtstamp`` is when this version was made."""
    return _calendar(details, method=IcsMethod.REQUEST, dtstamp=dtstamp)


def cancellation_ics(details: InvitationDetails, *, dtstamp: datetime) -> str:
    """The cancellation (METHOD:CANCEL, STATUS:CANCELLED); ``details.sequence`` must be above the last sent."""
    return _calendar(details, method=IcsMethod.CANCEL, dtstamp=dtstamp)


def invitation_text(details: InvitationDetails, tz: tzinfo = OSLO) -> str:
    """The same invitation as short plain text for e-mail or SMS (bokmål)."""
    heading = (
        "Endret tidspunkt eller innhold for samhandlingsmøte" if details.sequence else "Invitasjon til samhandlingsmøte"
    )
    join_url, credentials = details.way_in()
    lines = [
        heading,
        f"Tema: {details.plan.topic}",
        f"Tid: {format_span(details.plan.starts_at, details.plan.ends_at, tz)}",
        f"Bli med: {join_url}",
        f"Uten lenke: gå til {details.fallback_address}, skriv romkode {credentials.display_code} "
        f"og PIN {credentials.pin}.",
    ]
    if details.precheck_url:
        lines.append(f"Test utstyret før møtet: {details.precheck_url}")
    return "\n".join(lines) + "\n"


def cancellation_text(details: InvitationDetails, tz: tzinfo = OSLO) -> str:
    when = format_span(details.plan.starts_at, details.plan.ends_at, tz)
    return f"Samhandlingsmøtet {when} er avlyst.\nTema: {details.plan.topic}\n"


# --- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IcsProperty:
    name: str
    params: dict[str, str]
    value: str
    """The raw value as written (escapes kept); ``text`` gives the unescaped text."""

    @property
    def text(self) -> str:
        return unescape_text(self.value)


@dataclass(slots=True)
class IcsComponent:
    name: str
    properties: list[IcsProperty] = field(default_factory=list)
    components: list[IcsComponent] = field(default_factory=list)

    def all(self, name: str) -> list[IcsProperty]:
        return [p for p in self.properties if p.name == name.upper()]

    def get(self, name: str) -> IcsProperty:
        found = self.all(name)
        if len(found) != 1:
            raise IcsInvalid(f"Kalenderfilen skal ha nøyaktig én {name.upper()}.")
        return found[0]

    def children(self, name: str) -> list[IcsComponent]:
        return [c for c in self.components if c.name == name.upper()]


def unescape_text(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        out.append("\n" if nxt in ("n", "N") else nxt)
    return "".join(out)


def unfold(text: str) -> list[str]:
    """Logical lines: a line break followed by one space or tab joins the next physical line to this one."""
    lines: list[str] = []
    for physical in text.replace("\r\n", "\n").split("\n"):
        if physical[:1] in (" ", "\t") and lines:
            lines[-1] += physical[1:]
        elif physical:
            lines.append(physical)
    return lines


def parse_content_line(line: str) -> IcsProperty:
    """NAME *(;PARAM=VALUE) : VALUE, with quoted parameter values that may hold ":", ";" and ","."""
    index, length = 0, len(line)
    while index < length and line[index] not in ";:":
        index += 1
    name = line[:index].upper()
    if not name or index == length:
        raise IcsInvalid("Kalenderfilen har en linje uten navn eller verdi.")
    params: dict[str, str] = {}
    while line[index] == ";":
        eq = line.find("=", index)
        if eq < 0:
            raise IcsInvalid("Kalenderfilen har en parameter uten verdi.")
        key, index = line[index + 1 : eq].upper(), eq + 1
        values: list[str] = []
        while True:
            if index < length and line[index] == '"':
                end = line.find('"', index + 1)
                if end < 0:
                    raise IcsInvalid("Kalenderfilen har et parameter med manglende anførselstegn.")
                values.append(line[index + 1 : end])
                index = end + 1
            else:
                start = index
                while index < length and line[index] not in ",;:":
                    index += 1
                values.append(line[start:index])
            if index < length and line[index] == ",":
                index += 1
                continue
            break
        if index >= length:
            raise IcsInvalid("Kalenderfilen har en linje uten verdi.")
        params[key] = ",".join(values)
    return IcsProperty(name, params, line[index + 1 :])


def parse_ics(text: str) -> IcsComponent:
    """The VCALENDAR component of ``text`` with its properties and nested components."""
    stack: list[IcsComponent] = []
    root: IcsComponent | None = None
    for line in unfold(text):
        prop = parse_content_line(line)
        if prop.name == "BEGIN":
            component = IcsComponent(prop.value.upper())
            if stack:
                stack[-1].components.append(component)
            elif root is None:
                root = component
            else:
                raise IcsInvalid("Kalenderfilen har mer enn én kalender.")
            stack.append(component)
        elif prop.name == "END":
            if not stack or stack[-1].name != prop.value.upper():
                raise IcsInvalid("Kalenderfilen har BEGIN og END som ikke passer sammen.")
            stack.pop()
        elif stack:
            stack[-1].properties.append(prop)
        else:
            raise IcsInvalid("Kalenderfilen har innhold utenfor kalenderen.")
    if root is None or stack or root.name != "VCALENDAR":
        raise IcsInvalid("Kalenderfilen er ufullstendig.")
    return root


def parse_ics_datetime(prop: IcsProperty) -> datetime:
    """A DATE-TIME value: UTC with "Z", local time in the zone named by TZID, or floating (naive)."""
    try:
        moment = datetime.strptime(prop.value.rstrip("Z"), "%Y%m%dT%H%M%S")
    except ValueError:
        raise IcsInvalid(f"{prop.name} er ikke et gyldig tidspunkt.") from None
    if prop.value.endswith("Z"):
        return moment.replace(tzinfo=UTC)
    if "TZID" in prop.params:
        try:
            return moment.replace(tzinfo=ZoneInfo(prop.params["TZID"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise IcsInvalid(f"{prop.name} har en ukjent tidssone.") from None
    return moment


def events(calendar: IcsComponent) -> Iterable[IcsComponent]:
    return calendar.children("VEVENT")
