"""Meeting invitations as iCalendar (RFC 5545, iTIP RFC 5546) on ``icalendar``, and as short text, in the
language of the :class:`Voice` the web layer passes (the sender's page language: the invitee's is not known).

One meeting has one UID for its whole life; every change is sent again with the same UID and a higher
SEQUENCE (METHOD:REQUEST), and a cancellation is METHOD:CANCEL with STATUS:CANCELLED and a higher SEQUENCE
still, which is what Outlook, Google and the phones' calendars use to update or remove the entry they already
hold. Times are written in UTC with "Z", so no VTIMEZONE block is needed. ``icalendar`` writes the content
lines (CRLF, folding at 75 octets without splitting a UTF-8 character, TEXT escaping). The event is
CLASS:PRIVATE so that shared calendars show only "busy". RFC 5546 wants an ORGANIZER (and an ATTENDEE) on
REQUEST and CANCEL; they are optional here, but clients handle updates best when an organizer is given.

``parse_ics`` reads a calendar back through ``icalendar`` into a small tree the tests and pages inspect.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from privacy.user_text import Text, Voice
from session.meetings import MEETING_KINDS
from session.planning.errors import IcsInvalid
from session.planning.nb_format import format_span
from session.planning.plan import OSLO, MeetingPlan
from session.planning.room_code import RoomCredentials

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

    def title(self, voice: Voice) -> str:
        return voice("inv.title", topic=self.plan.topic)

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


def clean_text(value: str) -> str:
    """A TEXT value with line breaks made ``\\n`` and other control characters dropped (escaping is icalendar's)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def _param_text(value: str) -> str:
    # DQUOTE is dropped (RFC 5545 cannot carry it and RFC 6868's ^' is not read by every client).
    return "".join(ch for ch in value if ch != '"' and unicodedata.category(ch) != "Cc")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times in an invitation must be timezone-aware")
    return moment.astimezone(UTC)


def _address(address: CalendarAddress, extra: Sequence[tuple[str, str]]) -> icalendar.vCalAddress:
    value = icalendar.vCalAddress(f"mailto:{address.email}")
    if address.name:
        value.params["CN"] = _param_text(address.name)
    for key, param in extra:
        value.params[key] = param
    return value


def description_text(details: InvitationDetails, *, voice: Voice, cancelled: bool = False) -> str:
    """The DESCRIPTION in ``voice``'s language: the link, the alternative way in, the pre-call check, and what
    was agreed (the topic, filming and drawings are the planner's own words and stay as written)."""
    plan = details.plan
    kind = voice(f"kind.{plan.kind}") if plan.kind in MEETING_KINDS else plan.kind
    lines = [voice("inv.cancelled" if cancelled else "inv.welcome"), ""]
    lines += [voice("inv.topic", topic=plan.topic), voice("inv.kind", kind=kind)]
    if not cancelled:
        join_url, credentials = details.way_in()
        way_in = {"address": details.fallback_address, "code": credentials.display_code, "pin": credentials.pin}
        lines += ["", voice("inv.join", url=join_url), voice("inv.fallback", **way_in)]
        if details.precheck_url:
            lines.append(voice("inv.precheck", url=details.precheck_url))
        participants = "; ".join(voice(f"participant.{p.value}") for p in plan.participants)
        lines += [
            "",
            voice("inv.filming", filming=plan.filming),
            voice("inv.camera", role=Text(f"role.{plan.camera_operator.value}")),
            voice("inv.participants", participants=participants),
        ]
        if plan.drawings:
            lines.append(voice("inv.drawings", drawings="; ".join(plan.drawings)))
        if plan.serial_numbers:
            lines.append(voice("inv.serials", serials=", ".join(plan.serial_numbers)))
        lines += ["", voice("inv.privacy")]
    return "\n".join(lines)


def _calendar(details: InvitationDetails, *, method: IcsMethod, dtstamp: datetime, voice: Voice) -> str:
    cancelled = method is IcsMethod.CANCEL
    plan = details.plan
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method.value)
    event = icalendar.Event()
    event.add("uid", details.uid)
    event.add("dtstamp", _utc(dtstamp))
    event.add("dtstart", _utc(plan.starts_at))
    event.add("dtend", _utc(plan.ends_at))
    event.add("sequence", details.sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    language = {"LANGUAGE": voice.lang}
    event.add("summary", clean_text(details.title(voice)), parameters=language)
    event.add(
        "description", clean_text(description_text(details, voice=voice, cancelled=cancelled)), parameters=language
    )
    event.add("class", "PRIVATE")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if not cancelled:
        join_url, _ = details.way_in()
        event.add("location", join_url)
        event.add("url", icalendar.vUri(join_url))
    if details.organizer is not None:
        event.add("organizer", _address(details.organizer, ()))
    partstat = [("ROLE", "REQ-PARTICIPANT"), ("PARTSTAT", "NEEDS-ACTION"), ("RSVP", "TRUE")]
    for attendee in details.attendees:
        event.add("attendee", _address(attendee, () if cancelled else partstat))
    calendar.add_component(event)
    written: bytes = calendar.to_ical()
    return written.decode()


def invitation_ics(details: InvitationDetails, *, dtstamp: datetime, voice: Voice) -> str:
    """A new or changed meeting (METHOD:REQUEST) in ``voice``'s language. Send it with ``Content-Type:
    text/calendar; charset=utf-8; method=REQUEST``. ``dtstamp`` is when this version was made."""
    return _calendar(details, method=IcsMethod.REQUEST, dtstamp=dtstamp, voice=voice)


def cancellation_ics(details: InvitationDetails, *, dtstamp: datetime, voice: Voice) -> str:
    """The cancellation (METHOD:CANCEL, STATUS:CANCELLED); ``details.sequence`` must be above the last sent."""
    return _calendar(details, method=IcsMethod.CANCEL, dtstamp=dtstamp, voice=voice)


def invitation_text(details: InvitationDetails, *, voice: Voice, tz: tzinfo = OSLO) -> str:
    """The same invitation as short plain text for e-mail or SMS, in ``voice``'s language, the time in ``tz``."""
    join_url, credentials = details.way_in()
    when = format_span(details.plan.starts_at, details.plan.ends_at, tz, voice.lang)
    lines = [
        voice("inv.text.changed" if details.sequence else "inv.text.new"),
        voice("inv.topic", topic=details.plan.topic),
        voice("inv.when", when=when),
        voice("inv.join", url=join_url),
        voice(
            "inv.text.fallback", address=details.fallback_address, code=credentials.display_code, pin=credentials.pin
        ),
    ]
    if details.precheck_url:
        lines.append(voice("inv.text.precheck", url=details.precheck_url))
    return "\n".join(lines) + "\n"


def cancellation_text(details: InvitationDetails, *, voice: Voice, tz: tzinfo = OSLO) -> str:
    when = format_span(details.plan.starts_at, details.plan.ends_at, tz, voice.lang)
    return voice("inv.text.cancelled", when=when) + "\n" + voice("inv.topic", topic=details.plan.topic) + "\n"


# --- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IcsProperty:
    name: str
    params: dict[str, str]
    value: str
    """The value as written (escapes kept); ``text`` gives the unescaped text."""
    text: str


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


def _tree(component: icalendar.cal.Component) -> IcsComponent:
    properties = []
    for name, values in component.items():
        for value in values if isinstance(values, list) else [values]:
            raw = value.to_ical()
            raw_text = raw.decode() if isinstance(raw, bytes) else str(raw)
            params = {key.upper(): str(param) for key, param in getattr(value, "params", {}).items()}
            text = str(value) if isinstance(value, str) else raw_text
            properties.append(IcsProperty(name.upper(), params, raw_text, text))
    return IcsComponent(component.name or "", properties, [_tree(child) for child in component.subcomponents])


def parse_ics(text: str) -> IcsComponent:
    """The VCALENDAR component of ``text`` with its properties and nested components."""
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError:
        raise IcsInvalid("Kalenderfilen kan ikke leses.") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise IcsInvalid("Kalenderfilen er ufullstendig.")
    return _tree(calendar)


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
