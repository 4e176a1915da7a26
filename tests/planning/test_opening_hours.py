"""Opening hours with an injected clock: opening and closing minute, midnight, summer time changes, holidays
(also on a Friday), exceptions that close an open day or give other hours, and the sentence for a closed page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from session.departments import Department
from session.planning.errors import OpeningHoursInvalid
from session.planning.opening_hours import (
    OSLO,
    DayException,
    OpeningHours,
    Period,
    easter_sunday,
    norwegian_public_holidays,
    standard_hours,
)
from web.dropin_pages import week_lines
from web.i18n import voice

TEKNISK = standard_hours(Department.TEKNISK)

NB = voice("nb")


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def next_utc(hours: OpeningHours, now: datetime) -> datetime:
    opening = hours.next_opening(now)
    assert opening is not None
    return opening.astimezone(UTC)


def test_open_from_the_opening_minute_and_closed_from_the_closing_minute() -> None:
    assert not TEKNISK.is_open(oslo(2025, 11, 24, 7, 59, 59))
    assert TEKNISK.is_open(oslo(2025, 11, 24, 8, 0))
    assert TEKNISK.is_open(oslo(2025, 11, 24, 15, 29, 59))
    assert not TEKNISK.is_open(oslo(2025, 11, 24, 15, 30))
    assert TEKNISK.closes_at(oslo(2025, 11, 24, 12, 0)) == oslo(2025, 11, 24, 15, 30)
    assert TEKNISK.closes_at(oslo(2025, 11, 24, 16, 0)) is None


def test_the_clock_may_be_in_any_time_zone() -> None:
    assert TEKNISK.is_open(utc(2025, 11, 24, 7, 0))  # 08.00 in Oslo in winter
    assert not TEKNISK.is_open(utc(2025, 11, 24, 6, 59))


def test_closed_at_the_weekend_opens_monday_with_the_example_sentence() -> None:
    friday_evening = oslo(2025, 11, 21, 16, 0)
    assert not TEKNISK.is_open(friday_evening)
    assert TEKNISK.next_opening(friday_evening) == oslo(2025, 11, 24, 8, 0)
    assert TEKNISK.closed_message(friday_evening, NB) == "Teknisk avdeling åpner mandag 24. november kl. 08.00."


def test_before_opening_the_same_day_says_today() -> None:
    assert TEKNISK.closed_message(voice=NB, now=oslo(2025, 11, 24, 6, 30)) == "Teknisk avdeling åpner i dag kl. 08.00."
    assert TEKNISK.next_opening(oslo(2025, 11, 24, 8, 0)) == oslo(2025, 11, 24, 8, 0)
    assert TEKNISK.next_opening(oslo(2025, 11, 24, 8, 0, 1)) == oslo(2025, 11, 25, 8, 0)


def test_spring_forward_monday_opens_at_eight_summer_time() -> None:
    # Summer time starts on Sunday 29 March 2026: Monday 08.00 is 06.00 UTC, the Friday before was 07.00 UTC.
    assert TEKNISK.next_opening(oslo(2026, 3, 27, 16, 0)) == oslo(2026, 3, 30, 8, 0)
    assert next_utc(TEKNISK, oslo(2026, 3, 27, 16, 0)) == utc(2026, 3, 30, 6, 0)
    assert TEKNISK.is_open(utc(2026, 3, 27, 7, 0))
    assert not TEKNISK.is_open(utc(2026, 3, 30, 5, 59))
    assert TEKNISK.is_open(utc(2026, 3, 30, 6, 0))


def test_fall_back_monday_opens_at_eight_winter_time() -> None:
    # Winter time starts on Sunday 25 October 2026: Monday 08.00 is 07.00 UTC.
    assert next_utc(TEKNISK, utc(2026, 10, 23, 15, 0)) == utc(2026, 10, 26, 7, 0)
    assert not TEKNISK.is_open(utc(2026, 10, 26, 6, 30))
    assert TEKNISK.is_open(utc(2026, 10, 26, 7, 0))


def test_a_period_across_the_skipped_hour_is_two_real_hours() -> None:
    night = DayException(date(2026, 3, 29), (Period(time(1), time(4)),), "vakt")
    hours = standard_hours(Department.TEKNISK, exceptions=[night])
    assert hours.is_open(utc(2026, 3, 29, 0, 0))  # 01.00 winter time
    assert hours.is_open(utc(2026, 3, 29, 1, 59))  # 03.59 summer time
    assert not hours.is_open(utc(2026, 3, 29, 2, 0))  # 04.00 summer time
    assert hours.closes_at(utc(2026, 3, 29, 1, 0)) == oslo(2026, 3, 29, 4, 0)


def test_both_runs_of_the_repeated_hour_are_inside_a_period_that_covers_it() -> None:
    night = DayException(date(2026, 10, 25), (Period(time(2), time(3)),), "vakt")
    hours = standard_hours(Department.TEKNISK, exceptions=[night])
    assert hours.is_open(utc(2026, 10, 25, 0, 30))  # 02.30 summer time
    assert hours.is_open(utc(2026, 10, 25, 1, 30))  # 02.30 winter time, an hour later
    assert not hours.is_open(utc(2026, 10, 25, 2, 0))  # 03.00 winter time
    assert not hours.is_open(utc(2026, 10, 24, 23, 59))


def test_a_holiday_on_a_friday_closes_it_and_the_sentence_says_why() -> None:
    good_friday = oslo(2026, 4, 3, 10, 0)
    assert good_friday.weekday() == 4
    assert not TEKNISK.is_open(good_friday)
    assert TEKNISK.closure_reason(good_friday.date()) == "langfredag"
    # Easter Monday is a holiday too, so the next opening is Tuesday.
    assert TEKNISK.next_opening(good_friday) == oslo(2026, 4, 7, 8, 0)
    assert TEKNISK.closed_message(voice=NB, now=good_friday) == (
        "Teknisk avdeling er stengt i dag (langfredag). Avdelingen åpner tirsdag 7. april kl. 08.00."
    )
    assert TEKNISK.closed_message(voice=voice("nn"), now=good_friday) == (
        "Teknisk avdeling er stengd i dag (langfredag). Avdelinga opnar tysdag 7. april kl. 08.00."
    )
    assert TEKNISK.closed_message(voice=voice("en"), now=good_friday) == (
        "The technical department is closed today (Good Friday). It opens Tuesday 7 April at 08.00."
    )


def test_an_exception_closes_a_normally_open_day() -> None:
    meeting_day = DayException(date(2025, 11, 26), (), "fagdag")
    hours = standard_hours(Department.MOBILITET, exceptions=[meeting_day])
    assert not hours.is_open(oslo(2025, 11, 26, 10, 0))
    assert hours.next_opening(oslo(2025, 11, 26, 10, 0)) == oslo(2025, 11, 27, 8, 0)
    assert hours.closed_message(voice=NB, now=oslo(2025, 11, 26, 10, 0)) == (
        "Mobilitetsavdelingen er stengt i dag (fagdag). Avdelingen åpner torsdag 27. november kl. 08.00."
    )


def test_a_special_day_has_its_own_hours() -> None:
    short = DayException(date(2025, 11, 27), (Period(time(10), time(12)),), "kortere åpningstid")
    hours = standard_hours(Department.TEKNISK, exceptions=[short])
    assert not hours.is_open(oslo(2025, 11, 27, 9, 0))
    assert hours.closed_message(voice=NB, now=oslo(2025, 11, 27, 9, 0)) == "Teknisk avdeling åpner i dag kl. 10.00."
    assert hours.is_open(oslo(2025, 11, 27, 11, 0))
    assert not hours.is_open(oslo(2025, 11, 27, 12, 0))


def test_an_exception_can_open_a_holiday() -> None:
    open_day = DayException(date(2026, 5, 1), (Period(time(9), time(11)),), "beredskap")
    hours = standard_hours(Department.TEKNISK, exceptions=[open_day])
    assert hours.is_open(oslo(2026, 5, 1, 9, 30))
    assert not TEKNISK.is_open(oslo(2026, 5, 1, 9, 30))


def test_a_period_may_close_at_midnight_and_the_next_may_open_at_midnight() -> None:
    late = OpeningHours(
        Department.KOMMUNIKASJON,
        weekly={0: (Period(time(20), time(0)),), 1: (Period(time(0), time(1)),)},
        public_holidays=False,
    )
    assert late.is_open(oslo(2025, 11, 24, 23, 59, 59))
    assert late.closes_at(oslo(2025, 11, 24, 23, 0)) == oslo(2025, 11, 25, 0, 0)
    assert late.is_open(oslo(2025, 11, 25, 0, 0))  # Tuesday's own period
    assert late.next_opening(oslo(2025, 11, 25, 0, 0)) == oslo(2025, 11, 25, 0, 0)
    assert not late.is_open(oslo(2025, 11, 25, 1, 0))
    assert week_lines(late, "nb")[0] == ("Mandag", "20.00–24.00")

    only_monday_evening = OpeningHours(Department.BOLIG, weekly={0: (Period(time(20), time(0)),)})
    assert not only_monday_evening.is_open(oslo(2025, 11, 25, 0, 0))
    assert only_monday_evening.next_opening(oslo(2025, 11, 25, 0, 0)) == oslo(2025, 12, 1, 20, 0)


def test_christmas_eve_and_new_years_eve_are_closed_and_the_year_is_named_across_new_year() -> None:
    assert TEKNISK.closure_reason(date(2025, 12, 24)) == "julaften"
    assert not TEKNISK.is_open(oslo(2025, 12, 24, 10, 0))
    message = TEKNISK.closed_message(voice=NB, now=oslo(2025, 12, 31, 10, 0))
    assert message == (
        "Teknisk avdeling er stengt i dag (nyttårsaften). Avdelingen åpner fredag 2. januar 2026 kl. 08.00."
    )
    keep_open = OpeningHours(Department.TEKNISK, weekly=TEKNISK.weekly, closed_christmas_and_new_years_eve=False)
    assert keep_open.is_open(oslo(2025, 12, 24, 10, 0))


def test_no_opening_within_the_horizon() -> None:
    never = OpeningHours(Department.BOLIG, weekly={})
    assert never.next_opening(oslo(2025, 11, 24, 10, 0)) is None
    assert "ingen planlagte åpningstider" in never.closed_message(voice=NB, now=oslo(2025, 11, 24, 10, 0))
    assert week_lines(never, "nb")[6] == ("Søndag", "stengt")


def test_easter_and_the_moving_holidays() -> None:
    known = {2024: date(2024, 3, 31), 2025: date(2025, 4, 20), 2026: date(2026, 4, 5), 2038: date(2038, 4, 25)}
    for year, easter in known.items():
        assert easter_sunday(year) == easter
    holidays = norwegian_public_holidays(2026)
    assert holidays[date(2026, 5, 14)] == "Kristi himmelfartsdag"
    assert holidays[date(2026, 5, 25)] == "andre pinsedag"
    assert holidays[date(2026, 5, 17)] == "grunnlovsdag"  # the holidays calendar's name
    assert len(holidays) == 12


def test_bad_hours_and_a_naive_clock_are_refused() -> None:
    with pytest.raises(OpeningHoursInvalid):
        Period(time(15), time(8))
    with pytest.raises(OpeningHoursInvalid):
        DayException(date(2025, 11, 24), (Period(time(8), time(12)), Period(time(11), time(13))))
    with pytest.raises(OpeningHoursInvalid):
        OpeningHours(Department.BOLIG, weekly={7: ()})
    with pytest.raises(OpeningHoursInvalid):
        OpeningHours(Department.BOLIG, weekly={}, exceptions={date(2025, 1, 2): DayException(date(2025, 1, 3))})
    with pytest.raises(ValueError):
        TEKNISK.is_open(datetime(2025, 11, 24, 10, 0))
    assert TEKNISK.next_opening(oslo(2025, 11, 24, 16, 0)) == oslo(2025, 11, 25, 8, 0)
