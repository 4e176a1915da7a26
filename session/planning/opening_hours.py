"""Opening hours of a department's drop-in: a weekly pattern in local time, public holidays and exceptions.

Hours are wall-clock times in Europe/Oslo, so "08.00" stays 08.00 across the change to and from summer time;
every comparison is made between UTC instants, because Python compares two datetimes that share a tzinfo by
their wall-clock fields and would get the hours around a change wrong. A period runs from its opening minute
(open) to its closing minute (closed); a period may close at midnight (``time(0)`` as the closing time) but not
run past it. Norwegian public holidays come from the maintained ``holidays`` calendar, Christmas Eve and New
Year's Eve count as closed unless told otherwise, and an exception for a date replaces everything else for that
date. The clock is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

from privacy.user_text import Text, Voice
from session.departments import Department
from session.planning.errors import OpeningHoursInvalid
from session.planning.nb_format import format_clock, format_day

OSLO = ZoneInfo("Europe/Oslo")
MIDNIGHT = time(0)
HORIZON_DAYS = 400
REASON_MAX = 100


@dataclass(frozen=True, slots=True)
class Period:
    """One opening period within a day; ``closes`` equal to midnight means the end of that day."""

    opens: time
    closes: time

    def __post_init__(self) -> None:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise OpeningHoursInvalid("hours", Text("err.hours.timezone"))
        if not (self.closes == MIDNIGHT or self.closes > self.opens):
            raise OpeningHoursInvalid("hours", Text("err.hours.closes_before_opens"))

    def bounds(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period on ``day`` as UTC instants."""
        end_day = day + timedelta(days=1) if self.closes == MIDNIGHT else day
        start = datetime.combine(day, self.opens, tzinfo=tz).astimezone(UTC)
        return start, datetime.combine(end_day, self.closes, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DayException:
    """A date with other hours than usual: ``periods`` empty means closed all day."""

    day: date
    periods: tuple[Period, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        _check_periods(self.periods)
        if len(self.reason) > REASON_MAX:
            raise OpeningHoursInvalid("reason", Text("err.input.too_long", field=Text("field.reason"), max=REASON_MAX))


def _check_periods(periods: Iterable[Period]) -> None:
    for earlier, later in pairwise(periods):
        if earlier.closes == MIDNIGHT or later.opens < earlier.closes:
            raise OpeningHoursInvalid("hours", Text("err.hours.overlap"))


def _in_sentence(name: str) -> str:
    """A name inside a sentence: «første juledag»; «Kristi himmelfartsdag» keeps its capital."""
    return name if name.startswith("Kristi") else name[:1].lower() + name[1:]


@lru_cache(maxsize=32)
def norwegian_public_holidays(year: int) -> Mapping[date, str]:
    """Offentlige høytidsdager and 1 and 17 May, by date, with their Norwegian names (from ``holidays``)."""
    found = holidays.country_holidays("NO", years=year, language="no")
    return MappingProxyType({day: _in_sentence(name) for day, name in sorted(found.items())})


@lru_cache(maxsize=32)
def _english_holiday_names(year: int) -> Mapping[date, str]:
    return MappingProxyType(dict(holidays.country_holidays("NO", years=year, language="en_US").items()))


def _holiday_in(lang: str, day: date, norwegian: str) -> str:
    """A holiday's name for a reader of ``lang``: the calendar's English names, the Norwegian ones for bokmål and
    nynorsk (whose names of these days are the same words)."""
    if lang == "en":
        return _english_holiday_names(day.year).get(day) or CUSTOMARY_CLOSED_EN.get((day.month, day.day), norwegian)
    return norwegian


def easter_sunday(year: int) -> date:
    """Western Easter Sunday, as the holiday calendar has it."""
    return next(day for day, name in norwegian_public_holidays(year).items() if name == "første påskedag")


CUSTOMARY_CLOSED = {(12, 24): "julaften", (12, 31): "nyttårsaften"}
CUSTOMARY_CLOSED_EN = {(12, 24): "Christmas Eve", (12, 31): "New Year's Eve"}


@dataclass(frozen=True)
class OpeningHours:
    """When one department's drop-in is open. ``weekly`` maps weekday (0 = Monday) to that day's periods."""

    department: Department
    weekly: Mapping[int, tuple[Period, ...]]
    exceptions: Mapping[date, DayException] = field(default_factory=dict)
    tz: ZoneInfo = OSLO
    public_holidays: bool = True
    closed_christmas_and_new_years_eve: bool = True

    def __post_init__(self) -> None:
        for weekday, periods in self.weekly.items():
            if weekday not in range(7):
                raise OpeningHoursInvalid("weekly", Text("err.hours.weekday"))
            _check_periods(periods)
        for day, exception in self.exceptions.items():
            if exception.day != day:
                raise OpeningHoursInvalid("exceptions", Text("err.hours.exception_date"))

    def periods_on(self, day: date) -> tuple[Period, ...]:
        """The periods that apply on ``day`` (a local date): the exception, else closed on a holiday, else weekly."""
        if day in self.exceptions:
            return self.exceptions[day].periods
        if self.closure_reason(day) is not None:
            return ()
        return self.weekly.get(day.weekday(), ())

    def closure_reason(self, day: date) -> str | None:
        """Why ``day`` is closed when it would not be by the weekly pattern alone (holiday or exception)."""
        if day in self.exceptions:
            exception = self.exceptions[day]
            return None if exception.periods else exception.reason
        if self.public_holidays and day in norwegian_public_holidays(day.year):
            return norwegian_public_holidays(day.year)[day]
        if self.closed_christmas_and_new_years_eve and (day.month, day.day) in CUSTOMARY_CLOSED:
            return CUSTOMARY_CLOSED[(day.month, day.day)]
        return None

    def _local_day(self, now: datetime) -> date:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        return now.astimezone(self.tz).date()

    def current_period(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The UTC bounds of the period ``now`` falls in, or None when closed."""
        today = self._local_day(now)
        instant = now.astimezone(UTC)
        for period in self.periods_on(today):
            start, end = period.bounds(today, self.tz)
            if start <= instant < end:
                return start, end
        return None

    def is_open(self, now: datetime) -> bool:
        return self.current_period(now) is not None

    def closes_at(self, now: datetime) -> datetime | None:
        """When the current period ends (local time), or None when closed now."""
        period = self.current_period(now)
        return None if period is None else period[1].astimezone(self.tz)

    def next_opening(self, now: datetime, *, horizon_days: int = HORIZON_DAYS) -> datetime | None:
        """The first start of a period at or after ``now`` (local time); None when none within the horizon."""
        today = self._local_day(now)
        instant = now.astimezone(UTC)
        for offset in range(horizon_days + 1):
            day = today + timedelta(days=offset)
            for period in self.periods_on(day):
                start, _ = period.bounds(day, self.tz)
                if start >= instant:
                    return start.astimezone(self.tz)
        return None

    def closed_message(self, now: datetime, voice: Voice) -> str:
        """A sentence in ``voice``'s language for the page shown while the department is closed, e.g.
        "Teknisk avdeling åpner mandag 24. november kl. 08.00." (with today's reason when it is a holiday)."""
        today = self._local_day(now)
        opening = self.next_opening(now)
        if opening is None:
            return self._about_department(voice, "dropin.closed.none")
        if opening.date() == today:
            day = voice("dropin.today")
        else:
            day = format_day(opening.date(), year=opening.year != today.year, locale=voice.lang)
        when = voice("dropin.when", day=day, time=format_clock(opening))
        reason = self._reason_in(today, voice)
        if reason is not None and opening.date() != today:
            return self._about_department(voice, "dropin.closed.today", reason=reason, when=when)
        return self._about_department(voice, "dropin.closed.opens", when=when)

    def _reason_in(self, day: date, voice: Voice) -> str | None:
        """Why ``day`` is closed, for this reader: the staff's own reason as typed, else the holiday's name."""
        if day in self.exceptions:
            exception = self.exceptions[day]
            return None if exception.periods else (exception.reason or voice("dropin.closed.this_day"))
        reason = self.closure_reason(day)
        return None if reason is None else _holiday_in(voice.lang, day, reason)

    def _about_department(self, voice: Voice, key: str, **params: str) -> str:
        """The sentence ``key`` about this department: its name as the sentence's first word keeps its capital,
        inside the sentence ("The technical department opens …") it is written in lower case."""
        marker = "\x00"
        sentence = voice(key, dept=marker, **params)
        label = voice(f"dropin.dept.{self.department.value}")
        name = label if sentence.startswith(marker) else label[:1].lower() + label[1:]
        return sentence.replace(marker, name)


def standard_hours(
    department: Department,
    *,
    opens: time = time(8),
    closes: time = time(15, 30),
    exceptions: Iterable[DayException] = (),
) -> OpeningHours:
    """Monday to Friday ``opens``–``closes`` in Europe/Oslo with holidays closed: a centre's usual phone hours."""
    period = (Period(opens, closes),)
    return OpeningHours(
        department=department,
        weekly={weekday: period for weekday in range(5)},
        exceptions={exception.day: exception for exception in exceptions},
    )
