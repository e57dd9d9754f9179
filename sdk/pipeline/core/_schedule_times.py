"""When a time-based schedule fires: the recurrence arithmetic, pure and clock-free (the scheduler
passes ``now``; tests pass any time).

The rules (Azure ML's ScheduleRecurrence docstring where it speaks, else amlocal's choice):

- Occurrences are computed in the schedule's time zone (its Windows id mapped to an IANA zone,
  :mod:`._timezones`) from an *anchor*: the ``start_time`` (a wall-clock time in that zone), or,
  without one, the moment the schedule was created.
- ``Minute``/``Hour``: every ``interval`` minutes/hours of elapsed time from the anchor (so a
  daylight-saving change does not shift or double them).
- ``Day``/``Week``/``Month`` without hours/minutes/week_days: every ``interval`` days/weeks/
  months at the anchor's wall-clock time. A monthly anchor on the 29th-31st skips months without
  that day (as Logic Apps recurrences do; amlocal's choice).
- ``Day``/``Week`` with hours/minutes (or ``time_of_day``) and/or ``week_days``: every
  ``interval`` days (weeks, counted from the anchor's week, Monday first) at each hour x minute
  (a missing list takes the anchor's hour or minute; missing week_days the anchor's weekday).
  Such pattern times fire only *after* the anchor: a start_time matching the pattern does not
  fire itself (Azure's docstring).
- No ``start_time``: the first run is immediate (the anchor fires), then the pattern follows.
  A ``start_time`` in the past fires nothing for the past: the first run is the next occurrence
  after the schedule was created (no back-fill).
- Daylight saving: a wall-clock time that does not exist (spring forward) fires at the same
  offset as before the change (02:30 becomes 03:30); one that occurs twice (fall back) fires
  once, at its first occurrence.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
START_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class RecurrenceSpec:
    """A validated recurrence as plain data (what the store keeps)."""
    frequency: str
    interval: int
    start_time: str | None = None       # wall-clock time in time_zone, START_TIME_FORMAT
    time_zone: str = "UTC"              # Windows id (a TimeZone value)
    hours: tuple[int, ...] | None = None
    minutes: tuple[int, ...] | None = None
    week_days: tuple[str, ...] | None = None

    @property
    def has_pattern(self) -> bool:
        return self.frequency in ("Day", "Week") and bool(self.hours or self.minutes
                                                           or self.week_days)

    def to_dict(self) -> dict:
        return {"frequency": self.frequency, "interval": self.interval,
                "start_time": self.start_time, "time_zone": self.time_zone,
                "hours": list(self.hours) if self.hours is not None else None,
                "minutes": list(self.minutes) if self.minutes is not None else None,
                "week_days": list(self.week_days) if self.week_days is not None else None}

    @classmethod
    def from_dict(cls, data: dict) -> "RecurrenceSpec":
        def seq(key):
            value = data.get(key)
            return tuple(value) if value is not None else None
        return cls(frequency=data["frequency"], interval=int(data["interval"]),
                   start_time=data.get("start_time"), time_zone=data.get("time_zone") or "UTC",
                   hours=seq("hours"), minutes=seq("minutes"), week_days=seq("week_days"))


@dataclass(frozen=True)
class Due:
    """The occurrences of a schedule in a window ``(since, now]``."""
    count: int
    first: datetime | None = None
    last: datetime | None = None


def zone(windows_id: str):
    """The IANA zone (a ``zoneinfo.ZoneInfo``) of a TimeZone value."""
    from zoneinfo import ZoneInfo

    from ._timezones import IANA_BY_WINDOWS_ID
    try:
        return ZoneInfo(IANA_BY_WINDOWS_ID[windows_id])
    except KeyError:
        raise ValueError(f"unknown time zone {windows_id!r}: use a TimeZone member, e.g. "
                         "TimeZone.UTC") from None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("times given to the recurrence arithmetic must be timezone-aware")
    return value.astimezone(timezone.utc)


def _anchor(spec: RecurrenceSpec, created_at: datetime, tz) -> datetime:
    """The anchor as an aware local datetime in ``tz``."""
    if spec.start_time:
        return datetime.strptime(spec.start_time, START_TIME_FORMAT).replace(tzinfo=tz)
    return _utc(created_at).astimezone(tz)


def _local(day: date, hour: int, minute: int, tz) -> datetime:
    """An aware UTC instant for a wall-clock time (fold 0: see the module docstring)."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(timezone.utc)


def _add_months(day: date, months: int) -> date | None:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    if day.day > calendar.monthrange(year, month)[1]:
        return None
    return day.replace(year=year, month=month)


def occurrences(spec: RecurrenceSpec, created_at: datetime, after: datetime) -> Iterator[datetime]:
    """The schedule's occurrences (aware UTC datetimes) strictly after ``after``, in order,
    without end. ``created_at``: when the schedule was made (the anchor without a start_time)."""
    tz = zone(spec.time_zone)
    anchor = _anchor(spec, created_at, tz)
    anchor_utc = anchor.astimezone(timezone.utc)
    after = _utc(after)
    if not spec.start_time and anchor_utc > after:
        yield anchor_utc                       # no start_time: the first run is immediate
    n = spec.interval
    if spec.frequency in ("Minute", "Hour"):
        step = timedelta(minutes=n) if spec.frequency == "Minute" else timedelta(hours=n)
        k = max(0, (after - anchor_utc) // step)
        while True:
            moment = anchor_utc + k * step
            if moment > after and (spec.start_time or k > 0):
                yield moment
            k += 1
    if not spec.has_pattern:
        yield from _plain(spec, anchor, tz, after)
        return
    yield from _pattern(spec, anchor, anchor_utc, tz, after)


def _plain(spec: RecurrenceSpec, anchor: datetime, tz, after: datetime) -> Iterator[datetime]:
    """Day/Week/Month at the anchor's wall-clock time."""
    n = spec.interval
    start_day, clock = anchor.date(), anchor.time().replace(tzinfo=None)
    after_day = after.astimezone(tz).date()
    if spec.frequency == "Month":
        months = (after_day.year - start_day.year) * 12 + after_day.month - start_day.month
        k = max(0, months // n - 1)
    else:
        unit = 1 if spec.frequency == "Day" else 7
        k = max(0, (after_day - start_day).days // (n * unit) - 1)
    while True:
        if spec.frequency == "Month":
            day = _add_months(start_day, k * n)
        else:
            day = start_day + timedelta(days=k * n * (1 if spec.frequency == "Day" else 7))
        if day is not None:
            moment = datetime.combine(day, clock, tzinfo=tz).astimezone(timezone.utc)
            if moment > after and (spec.start_time or k > 0):
                yield moment
        k += 1


def _pattern(spec: RecurrenceSpec, anchor: datetime, anchor_utc: datetime, tz,
             after: datetime) -> Iterator[datetime]:
    """Day/Week at hours x minutes (and week_days), strictly after the anchor."""
    hours = sorted(set(spec.hours)) if spec.hours else [anchor.hour]
    minutes = sorted(set(spec.minutes)) if spec.minutes else [anchor.minute]
    clock = [(h, m) for h in hours for m in minutes]
    floor = max(after, anchor_utc)
    floor_day = floor.astimezone(tz).date()
    if spec.frequency == "Day":
        k = max(0, (floor_day - anchor.date()).days // spec.interval - 1)
        while True:
            day = anchor.date() + timedelta(days=k * spec.interval)
            for h, m in clock:
                moment = _local(day, h, m, tz)
                if moment > floor:
                    yield moment
            k += 1
    days = sorted({WEEK_DAYS.index(d) for d in spec.week_days} if spec.week_days
                  else {anchor.weekday()})
    monday = anchor.date() - timedelta(days=anchor.weekday())
    k = max(0, (floor_day - monday).days // (7 * spec.interval) - 1)
    while True:
        week = monday + timedelta(weeks=k * spec.interval)
        for offset in days:
            for h, m in clock:
                moment = _local(week + timedelta(days=offset), h, m, tz)
                if moment > floor:
                    yield moment
        k += 1


def due(spec: RecurrenceSpec, created_at: datetime, since: datetime, now: datetime) -> Due:
    """The occurrences in ``(since, now]``: how many, the first and the last."""
    since, now = _utc(since), _utc(now)
    if now <= since:
        return Due(0)
    count, first, last = 0, None, None
    gen = occurrences(spec, created_at, since)
    step = None
    if spec.frequency in ("Minute", "Hour"):
        step = timedelta(minutes=spec.interval) if spec.frequency == "Minute" \
            else timedelta(hours=spec.interval)
    for moment in gen:
        if moment > now:
            break
        if first is None:
            first = moment
        count += 1
        last = moment
        if step is not None and count >= 2:   # fixed steps: the rest is arithmetic
            extra = (now - moment) // step
            count += extra
            last = moment + extra * step
            break
    return Due(count, first, last)


def next_occurrence(spec: RecurrenceSpec, created_at: datetime, after: datetime) -> datetime:
    return next(occurrences(spec, created_at, after))
