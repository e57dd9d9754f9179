"""When a schedule fires: the recurrence arithmetic (amlocal.pipeline.core._schedule_times) and
the scheduler's pure ``due_firings``, driven by explicit times (an injectable clock), never by
sleeping."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import islice

import pytest

from amlocal.pipeline.core._schedule_times import RecurrenceSpec, due, occurrences

UTC = timezone.utc
CREATED = datetime(2024, 3, 1, 10, 7, 30, tzinfo=UTC)   # a Friday


def first(spec, n=4, created=CREATED, after=None):
    after = after if after is not None else created - timedelta(microseconds=1)
    return [m.strftime("%Y-%m-%d %H:%M") for m in islice(occurrences(spec, created, after), n)]


def test_hourly_without_start_time_runs_at_once_then_every_hour():
    assert first(RecurrenceSpec("Hour", 1)) == [
        "2024-03-01 10:07", "2024-03-01 11:07", "2024-03-01 12:07", "2024-03-01 13:07"]


def test_every_15_minutes_from_a_start_time():
    spec = RecurrenceSpec("Minute", 15, start_time="2024-03-01T10:15:00")
    assert first(spec) == ["2024-03-01 10:15", "2024-03-01 10:30", "2024-03-01 10:45",
                           "2024-03-01 11:00"]


def test_interval_greater_than_one():
    assert first(RecurrenceSpec("Hour", 3, start_time="2024-03-01T12:00:00")) == [
        "2024-03-01 12:00", "2024-03-01 15:00", "2024-03-01 18:00", "2024-03-01 21:00"]
    assert first(RecurrenceSpec("Day", 2, start_time="2024-03-02T06:00:00"), 3) == [
        "2024-03-02 06:00", "2024-03-04 06:00", "2024-03-06 06:00"]


def test_daily_at_hours_and_minutes_in_a_time_zone_across_a_dst_change():
    # 09:30 and 18:30 Pacific; US clocks spring forward on 2024-03-10 (PST -8 -> PDT -7)
    spec = RecurrenceSpec("Day", 1, start_time="2024-03-08T00:00:00",
                          time_zone="Pacific Standard Time", hours=(9, 18), minutes=(30,))
    assert first(spec, 6) == ["2024-03-08 17:30", "2024-03-09 02:30", "2024-03-09 17:30",
                              "2024-03-10 02:30", "2024-03-10 16:30", "2024-03-11 01:30"]


def test_a_wall_clock_time_skipped_by_dst_fires_an_hour_later_and_a_doubled_one_once():
    spring = RecurrenceSpec("Day", 1, start_time="2024-03-09T00:00:00",
                            time_zone="Pacific Standard Time", hours=(2,), minutes=(30,))
    # 2024-03-10 02:30 does not exist in Los Angeles: it fires at 03:30 PDT (10:30 UTC)
    assert first(spring, 3) == ["2024-03-09 10:30", "2024-03-10 10:30", "2024-03-11 09:30"]
    fall = RecurrenceSpec("Day", 1, start_time="2024-11-02T00:00:00",
                          time_zone="Pacific Standard Time", hours=(1,), minutes=(30,))
    # 2024-11-03 01:30 happens twice: it fires once, at the first (PDT, 08:30 UTC)
    assert first(fall, 3) == ["2024-11-02 08:30", "2024-11-03 08:30", "2024-11-04 09:30"]


def test_weekly_on_week_days_every_two_weeks():
    spec = RecurrenceSpec("Week", 2, week_days=("Monday", "Wednesday"), hours=(18,),
                          minutes=(30,))
    # created Friday 2024-03-01: its week's Monday/Wednesday are past; the next are two
    # weeks after that week
    assert first(spec, 5) == ["2024-03-01 10:07", "2024-03-11 18:30", "2024-03-13 18:30",
                              "2024-03-25 18:30", "2024-03-27 18:30"]


def test_monthly_keeps_the_day_and_skips_months_without_it():
    spec = RecurrenceSpec("Month", 1, start_time="2024-01-31T09:00:00")
    assert first(spec, 4, after=datetime(2024, 1, 1, tzinfo=UTC)) == [
        "2024-01-31 09:00", "2024-03-31 09:00", "2024-05-31 09:00", "2024-07-31 09:00"]
    assert first(RecurrenceSpec("Month", 2, start_time="2024-11-01T09:00:00"), 3) == [
        "2024-11-01 09:00", "2025-01-01 09:00", "2025-03-01 09:00"]


def test_a_past_start_time_is_not_back_filled():
    spec = RecurrenceSpec("Hour", 1, start_time="2020-01-13T12:55:00")
    # created 10:07:30: the next :55 is 10:55, nothing for 2020..2024
    assert first(spec, 2, after=CREATED) == ["2024-03-01 10:55", "2024-03-01 11:55"]
    assert due(spec, CREATED, CREATED, CREATED + timedelta(minutes=30)).count == 0


def test_a_start_time_matching_the_pattern_does_not_fire_itself():
    spec = RecurrenceSpec("Week", 1, start_time="2024-03-04T18:30:00",
                          week_days=("Monday",), hours=(18,), minutes=(30,))
    assert first(spec, 2, after=datetime(2024, 3, 1, tzinfo=UTC)) == [
        "2024-03-11 18:30", "2024-03-18 18:30"]


def test_due_counts_a_window_and_fixed_steps_without_listing_them():
    spec = RecurrenceSpec("Minute", 1)
    year = due(spec, CREATED, CREATED, CREATED + timedelta(days=365))
    assert year.count == 365 * 24 * 60
    assert year.first == CREATED + timedelta(minutes=1)
    assert year.last == CREATED + timedelta(days=365)
    day = due(RecurrenceSpec("Day", 1, hours=(6, 18), minutes=(0,)), CREATED,
              CREATED, CREATED + timedelta(days=3))
    assert (day.count, day.first.hour, day.last.hour) == (6, 18, 6)


def test_due_firings_of_a_stored_schedule():
    from amlocal.server.scheduler import due_firings
    from amlocal.store.sql_schedules import ScheduleInfo
    created = "2024-03-01T10:07:30.000000Z"
    info = ScheduleInfo(id="s", workspace_id="w", name="n", experiment_name="e",
                        recurrence=RecurrenceSpec("Hour", 1).to_dict(), created_at=created)
    # no start_time, never evaluated: the creation instant itself is due (the first run)
    at_once = due_firings(info, CREATED)
    assert (at_once.count, at_once.last) == (1, CREATED)
    later = due_firings(info, CREATED + timedelta(hours=5, minutes=1))
    assert (later.count, later.first, later.last) == (
        6, CREATED, CREATED + timedelta(hours=5))
    from dataclasses import replace
    evaluated = replace(info, evaluated_until="2024-03-01T12:30:00.000000Z")
    assert due_firings(evaluated, CREATED + timedelta(hours=3)).count == 1   # 13:07
    assert due_firings(evaluated, CREATED + timedelta(hours=2)).count == 0


@pytest.mark.parametrize("member", ["UTC", "PacificStandardTime", "UTC11", "UTC12",
                                    "IndiaStandardTime", "LineIslandsStandardTime"])
def test_every_time_zone_maps_to_an_iana_zone(member):
    from zoneinfo import ZoneInfo

    from amlocal.pipeline.core._timezones import IANA_BY_WINDOWS_ID
    from amlocal.pipeline.core.schedule import TimeZone
    assert len(TimeZone) == len(IANA_BY_WINDOWS_ID) == 131
    for zone in TimeZone:
        ZoneInfo(IANA_BY_WINDOWS_ID[zone.value])
    offsets = {"UTC": 0, "UTC11": -11, "UTC12": 12, "IndiaStandardTime": 5.5,
               "LineIslandsStandardTime": 14, "PacificStandardTime": -8}
    winter = datetime(2024, 1, 15, 12, tzinfo=UTC)
    zone = ZoneInfo(IANA_BY_WINDOWS_ID[TimeZone[member].value])
    assert winter.astimezone(zone).utcoffset() == timedelta(hours=offsets[member])
