"""iCalendar invitations: read back what was written (UID, SEQUENCE, METHOD, times, STATUS), line endings,
folding at 75 octets without splitting UTF-8 characters, escaping, and the plain-text version."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from session.planning.errors import IcsInvalid
from session.planning.invitation_ics import (
    CalendarAddress,
    IcsComponent,
    InvitationDetails,
    cancellation_ics,
    cancellation_text,
    clean_text,
    invitation_ics,
    invitation_text,
    meeting_uid,
    parse_ics,
    parse_ics_datetime,
)
from session.planning.room_code import RoomCredentials
from tests.planning.samples import NOW, sample_plan
from web.i18n import voice

NB = voice("nb")

STAMP = NOW


def details(sequence: int = 0, **changes: str | list[str]) -> InvitationDetails:
    return InvitationDetails(
        uid=meeting_uid("a1b2c3d4e5f60708", "samhandling.nav.example"),
        sequence=sequence,
        plan=sample_plan(**changes),
        join_url="https://samhandling.nav.example/m/a1b2c3d4e5f60708?t=AbC,dEf;x",
        credentials=RoomCredentials("04811234", "0072"),
        fallback_address="https://samhandling.nav.example/kode",
        precheck_url="https://samhandling.nav.example/sjekk",
        organizer=CalendarAddress("no-reply@nav.example", "Samhandling, NAV Hjelpemiddelsentral Oslo"),
        attendees=(CalendarAddress("formidler@kommune.example", 'Kari "K" Formidler'),),
    )


def event_of(text: str) -> tuple[IcsComponent, IcsComponent]:
    calendar = parse_ics(text)
    (event,) = calendar.children("VEVENT")
    return calendar, event


def test_an_invitation_reads_back_with_its_uid_sequence_method_and_times() -> None:
    sent = details()
    calendar, event = event_of(invitation_ics(sent, dtstamp=STAMP, voice=NB))
    assert calendar.get("METHOD").value == "REQUEST"
    assert calendar.get("VERSION").value == "2.0"
    assert calendar.get("PRODID").value
    assert event.get("UID").text == "samhandling-a1b2c3d4e5f60708@samhandling.nav.example"
    assert event.get("SEQUENCE").value == "0"
    assert event.get("STATUS").value == "CONFIRMED"
    assert event.get("DTSTART").value == "20251124T090000Z"
    assert parse_ics_datetime(event.get("DTSTART")) == sent.plan.starts_at
    assert parse_ics_datetime(event.get("DTEND")) == sent.plan.ends_at
    assert parse_ics_datetime(event.get("DTSTAMP")) == STAMP
    assert event.get("SUMMARY").text == f"Samhandlingsmøte: {sent.plan.topic}"
    assert event.get("LOCATION").text == sent.join_url
    assert event.get("URL").value == sent.join_url
    assert event.get("CLASS").value == "PRIVATE"


def test_the_description_carries_the_link_room_code_pin_and_fallback() -> None:
    _, event = event_of(invitation_ics(details(), dtstamp=STAMP, voice=NB))
    description = event.get("DESCRIPTION").text
    assert "https://samhandling.nav.example/m/a1b2c3d4e5f60708?t=AbC,dEf;x" in description
    assert "romkode 0481 1234 og PIN 0072" in description
    assert "https://samhandling.nav.example/kode" in description
    assert "https://samhandling.nav.example/sjekk" in description
    assert "Badet fra døra.\nTerskelen og dusjsonen, ikke brukeren." in description
    assert "Husbanken" in description


def test_organizer_and_attendee_are_mailto_with_quoted_names() -> None:
    _, event = event_of(invitation_ics(details(), dtstamp=STAMP, voice=NB))
    organizer = event.get("ORGANIZER")
    assert organizer.value == "mailto:no-reply@nav.example"
    assert organizer.params["CN"] == "Samhandling, NAV Hjelpemiddelsentral Oslo"
    attendee = event.get("ATTENDEE")
    assert attendee.value == "mailto:formidler@kommune.example"
    assert attendee.params["CN"] == "Kari K Formidler"
    assert attendee.params["RSVP"] == "TRUE"


def test_organizer_and_attendees_are_optional() -> None:
    bare = replace(details(), organizer=None, attendees=())
    _, event = event_of(invitation_ics(bare, dtstamp=STAMP, voice=NB))
    assert event.all("ORGANIZER") == [] and event.all("ATTENDEE") == []


def test_an_update_keeps_the_uid_and_raises_the_sequence_and_a_cancel_raises_it_again() -> None:
    first = details(0)
    moved = details(1, starts_at="2025-11-25T12:00", ends_at="2025-11-25T13:00")
    cancelled = replace(moved, sequence=2, join_url=None, credentials=None)
    texts = [
        invitation_ics(first, dtstamp=STAMP, voice=NB),
        invitation_ics(moved, dtstamp=STAMP + timedelta(hours=1), voice=NB),
        cancellation_ics(cancelled, dtstamp=STAMP + timedelta(hours=2), voice=NB),
    ]
    read = [event_of(text) for text in texts]
    assert len({event.get("UID").text for _, event in read}) == 1
    assert [int(event.get("SEQUENCE").value) for _, event in read] == [0, 1, 2]
    assert [calendar.get("METHOD").value for calendar, _ in read] == ["REQUEST", "REQUEST", "CANCEL"]
    assert [event.get("STATUS").value for _, event in read] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert parse_ics_datetime(read[1][1].get("DTSTART")) == datetime(2025, 11, 25, 11, tzinfo=UTC)
    assert parse_ics_datetime(read[2][1].get("DTSTART")) == datetime(2025, 11, 25, 11, tzinfo=UTC)
    assert "0072" not in read[2][1].get("DESCRIPTION").text  # a cancellation no longer gives the way in
    assert read[2][1].all("LOCATION") == [] and read[2][1].all("URL") == []


def test_an_invitation_without_link_or_room_code_is_refused() -> None:
    for missing in ({"join_url": None}, {"credentials": None}):
        bare = replace(details(), **missing)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="join link"):
            invitation_ics(bare, dtstamp=STAMP, voice=NB)
        with pytest.raises(ValueError, match="join link"):
            invitation_text(bare, voice=NB)
    assert "avlyst" in cancellation_text(replace(details(), join_url=None, credentials=None), voice=NB)


def test_every_line_ends_in_crlf_and_is_at_most_75_octets() -> None:
    text = invitation_ics(details(topic="æøå " * 40), dtstamp=STAMP, voice=NB)
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")[:-1]
    assert max(len(line.encode()) for line in lines) <= 75
    assert any(line.startswith(" ") for line in lines)


def test_folding_never_splits_a_multibyte_character() -> None:
    topic = "æøåÆØÅ€😀" * 20
    text = invitation_ics(details(topic=topic), dtstamp=STAMP, voice=NB)
    physical = text.split("\r\n")[:-1]
    for piece in physical:
        assert len(piece.encode()) <= 75
        piece.encode().decode("utf-8", errors="strict")
    _, event = event_of(text)
    assert event.get("SUMMARY").text == f"Samhandlingsmøte: {topic}"


def test_escaping_round_trips_backslash_semicolon_comma_and_newlines() -> None:
    raw = "a\\b;c,d\ne\r\nf\rg\x07h"
    assert clean_text(raw) == "a\\b;c,d\ne\nf\ngh"
    text = invitation_ics(details(filming="a\\b;c,d\ne"), dtstamp=STAMP, voice=NB)
    assert "a\\\\b\\;c\\,d\\ne" in text.replace("\r\n ", "")
    _, event = event_of(text)
    assert "Dette skal filmes: a\\b;c,d\ne\n" in event.get("DESCRIPTION").text


def test_topic_with_special_characters_survives_the_round_trip() -> None:
    sent = details()
    _, event = event_of(invitation_ics(sent, dtstamp=STAMP, voice=NB))
    assert event.get("SUMMARY").text.endswith("terskel, dusjsone og \\ skråning")
    assert event.get("SUMMARY").params["LANGUAGE"] == "nb"


def test_the_parser_reads_quoted_parameters_and_refuses_broken_calendars() -> None:
    calendar = parse_ics(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\n"
        'ATTENDEE;CN="Doe, J: x";ROLE=REQ-PARTICIPANT:mailto:j@x.example\r\n'
        "DTSTART;TZID=Europe/Oslo:20251124T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (event,) = calendar.children("VEVENT")
    prop = event.get("ATTENDEE")
    assert prop.params == {"CN": "Doe, J: x", "ROLE": "REQ-PARTICIPANT"}
    assert prop.value == "mailto:j@x.example"
    tz_prop = event.get("DTSTART")
    assert tz_prop.params["TZID"] == "Europe/Oslo"
    assert parse_ics_datetime(tz_prop).astimezone(UTC) == datetime(2025, 11, 24, 9, tzinfo=UTC)
    for broken in (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\n",
        "UID:x\r\n",
        "BEGIN:VCALENDAR\r\nnocolon\r\nEND:VCALENDAR\r\n",
        'BEGIN:VCALENDAR\r\nX;P="open:x\r\nEND:VCALENDAR\r\n',
    ):
        with pytest.raises(IcsInvalid):
            parse_ics(broken)


def test_the_text_version_is_short_norwegian_with_the_way_in() -> None:
    text = invitation_text(details(), voice=NB)
    assert text.startswith("Invitasjon til samhandlingsmøte\n")
    assert "Tid: mandag 24. november 2025 kl. 10.00–11.00" in text
    assert "romkode 0481 1234 og PIN 0072" in text
    assert "https://samhandling.nav.example/kode" in text
    assert len(text) < 600
    assert invitation_text(details(1), voice=NB).startswith("Endret")
    assert "er avlyst" in cancellation_text(details(2), voice=NB)


def test_uid_and_addresses_refuse_odd_values() -> None:
    with pytest.raises(ValueError):
        meeting_uid("a b", "x.example")
    with pytest.raises(ValueError):
        CalendarAddress("not an address")
    with pytest.raises(ValueError):
        replace(details(), join_url="https://x.example/\r\nMETHOD:CANCEL")
    with pytest.raises(ValueError):
        replace(details(), sequence=-1)


def test_an_invitation_in_nynorsk_and_english_with_dates_for_that_language_in_oslo_time() -> None:
    """The invitee's language is not known: the invitation is written in the sender's page language."""
    nynorsk = invitation_text(details(), voice=voice("nn"))
    assert nynorsk.startswith("Invitasjon til samhandlingsmøte\n")
    assert "Tid: måndag 24. november 2025 kl. 10.00–11.00" in nynorsk  # 09:00 UTC is 10.00 in Oslo
    assert "Utan lenke: gå til https://samhandling.nav.example/kode, skriv romkode 0481 1234 og PIN 0072." in nynorsk
    english = invitation_text(details(1), voice=voice("en"))
    assert english.startswith("Changed time or content of a Samhandling meeting\n")
    assert "Time: Monday 24 November 2025 at 10.00–11.00" in english
    assert "is cancelled" in cancellation_text(details(2), voice=voice("en"))
    _, event = event_of(invitation_ics(details(), dtstamp=STAMP, voice=voice("nn")))
    assert event.get("SUMMARY").params["LANGUAGE"] == "nn" and event.get("DESCRIPTION").params["LANGUAGE"] == "nn"
    described = event.get("DESCRIPTION").text
    assert "Velkomen til samhandlingsmøte." in described and "Verkar ikkje lenka?" in described
    assert "Den som filmar: " in described and "Andlet blir anonymiserte i møtet." in described
    _, event = event_of(invitation_ics(details(), dtstamp=STAMP, voice=voice("en")))
    assert event.get("SUMMARY").text.startswith("Samhandling meeting: ")
    assert "Participants: " in event.get("DESCRIPTION").text and "Deltakere" not in event.get("DESCRIPTION").text
