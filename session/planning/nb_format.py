"""Dates and times written per language with Babel's CLDR data: "mandag 24. november", "kl. 08.00".

Bokmål is the default (the domain speaks it); ``locale`` gives nynorsk ("nn") or English ("en") names.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from babel.dates import format_date, get_day_names

_DAY_PATTERNS = {"en": "EEEE d MMMM"}
"""CLDR patterns where the Norwegian "d. MMMM" does not fit the language."""


def weekday_names(locale: str = "nb") -> tuple[str, ...]:
    """Monday to Sunday, as the language writes them mid-sentence ("mandag", "Monday")."""
    names = get_day_names("wide", locale=locale)
    return tuple(str(names[index]) for index in range(7))


WEEKDAYS = weekday_names("nb")


def format_day(day: date, *, year: bool = False, weekday: bool = True, locale: str = "nb") -> str:
    """ "mandag 24. november", with " 2025" when ``year``; "Monday 24 November 2025" in English."""
    pattern = _DAY_PATTERNS.get(locale, "EEEE d. MMMM")
    if not weekday:
        pattern = pattern.removeprefix("EEEE ")
    return str(format_date(day, pattern + (" y" if year else ""), locale=locale))


def format_clock(moment: time | datetime) -> str:
    """ "08.00": hours and minutes with a full stop, as Språkrådet recommends."""
    return f"{moment.hour:02d}.{moment.minute:02d}"


_AT = {"nb": "kl.", "nn": "kl.", "en": "at"}
"""The word before a clock time: «kl. 10.00», "at 10.00"."""


def format_span(starts_at: datetime, ends_at: datetime, tz: tzinfo, locale: str = "nb") -> str:
    """ "mandag 24. november 2025 kl. 10.00–11.00" in the time zone ``tz`` (end date added if it differs);
    "Monday 24 November 2025 at 10.00–11.00" in English."""
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    at = _AT.get(locale, "kl.")
    text = f"{format_day(start.date(), year=True, locale=locale)} {at} {format_clock(start)}–"
    if end.date() != start.date():
        text += f"{format_day(end.date(), year=True, locale=locale)} {at} "
    return text + format_clock(end)


def format_numeric_date(day: date, locale: str = "nb") -> str:
    """ "24.11.2025"; "24/11/2025" in (British) English, the order Norwegian readers of English expect."""
    return day.strftime("%d/%m/%Y" if locale == "en" else "%d.%m.%Y")
