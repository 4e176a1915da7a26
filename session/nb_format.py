"""Dates and times written the Norwegian (bokmål) way: "mandag 24. november", "kl. 08.00"."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

WEEKDAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
MONTHS = (
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
)


def format_day(day: date, *, year: bool = False, weekday: bool = True) -> str:
    """ "mandag 24. november", with " 2025" when ``year``."""
    text = f"{day.day}. {MONTHS[day.month - 1]}"
    if weekday:
        text = f"{WEEKDAYS[day.weekday()]} {text}"
    return f"{text} {day.year}" if year else text


def format_clock(moment: time | datetime) -> str:
    """ "08.00": hours and minutes with a full stop, as Språkrådet recommends."""
    return f"{moment.hour:02d}.{moment.minute:02d}"


def format_span(starts_at: datetime, ends_at: datetime, tz: tzinfo) -> str:
    """ "mandag 24. november 2025 kl. 10.00–11.00" in the time zone ``tz`` (end date added if it differs)."""
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    text = f"{format_day(start.date(), year=True)} kl. {format_clock(start)}–"
    if end.date() != start.date():
        text += f"{format_day(end.date(), year=True)} kl. "
    return text + format_clock(end)
