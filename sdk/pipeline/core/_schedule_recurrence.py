"""``ScheduleRecurrence`` and ``TimeZone`` (re-exported by ``azureml.pipeline.core.schedule``):
the checks and messages of Azure ML's, and the conversion to the plain
:class:`._schedule_times.RecurrenceSpec` the store keeps and the scheduler fires."""
from __future__ import annotations

import enum
import re
from datetime import datetime

from ._schedule_times import FREQUENCIES, START_TIME_FORMAT, WEEK_DAYS, RecurrenceSpec
from ._timezones import TIME_ZONES

TimeZone = enum.Enum("TimeZone", [(member, windows) for member, windows, _ in TIME_ZONES],
                     module=__name__.rsplit(".", 1)[0] + ".schedule", qualname="TimeZone")
TimeZone.__doc__ = (
    "The time zones of a recurrence (Azure's Windows time-zone ids as values, e.g. "
    "``TimeZone.PacificStandardTime.value == 'Pacific Standard Time'``). amlocal fires each in "
    "its IANA zone (``amlocal.pipeline.core._timezones``), daylight saving included.")

_TIME_OF_DAY = re.compile(r"[0-9]{1,2}:[0-9]{2}$")


class ScheduleRecurrence:
    """How often a recurrence :class:`Schedule` fires: ``frequency`` ("Minute", "Hour", "Day",
    "Week", "Month") every ``interval`` units, optionally from ``start_time`` (a naive datetime
    or "YYYY-MM-DDThh:mm:ss", a wall-clock time in ``time_zone``, UTC when not given), at
    ``hours``/``minutes`` or ``time_of_day`` ("hh:mm", Day/Week) and on ``week_days`` (Week).

    When it fires is documented in :mod:`amlocal.pipeline.core._schedule_times` (no start_time:
    the first run is immediate; a past start_time: the next occurrence, no back-fill)."""

    def __init__(self, frequency, interval, start_time=None, time_zone=None, hours=None,
                 minutes=None, week_days=None, time_of_day=None):
        self.frequency = frequency
        self.interval = interval
        self.start_time = None
        if start_time is not None:
            if isinstance(start_time, datetime):
                if start_time.tzinfo is not None:
                    raise ValueError("Can not specify tzinfo for start_time, use time_zone "
                                     "instead.")
                self.start_time = start_time.strftime(START_TIME_FORMAT)
            else:
                self.start_time = start_time
        self.time_zone = time_zone
        if self.start_time is not None and self.time_zone is None:
            self.time_zone = TimeZone.UTC
        self.hours = hours
        self.minutes = minutes
        if time_of_day is not None:
            if hours is not None or minutes is not None:
                raise ValueError("Can not specify time_of_day and hours or minutes.")
            if not isinstance(time_of_day, str) or _TIME_OF_DAY.match(time_of_day) is None:
                raise ValueError("time_of_day should be in the format hh:mm.")
            hour, minute = (int(part) for part in time_of_day.split(":"))
            if not 0 <= hour <= 23:
                raise ValueError("Time of day hour value must be between 0 and 23.")
            if not 0 <= minute <= 59:
                raise ValueError("Time of day minute value must be between 0 and 59.")
            self.hours, self.minutes = [hour], [minute]
        self.week_days = week_days

    def validate(self) -> None:
        """Raise ValueError (Azure's messages) for a recurrence the service would refuse. Called
        by ``Schedule.create`` and ``update``, not by the constructor (as on Azure)."""
        if self.frequency not in FREQUENCIES:
            raise ValueError("Invalid value for frequency, only one of Minute, Hour, Day, "
                             "Week, or Month accepted")
        if isinstance(self.interval, bool) or not isinstance(self.interval, int) \
                or self.interval < 1:
            raise ValueError("Interval must be an integer greater than 0.")
        if self.frequency not in ("Day", "Week") and self.hours is not None:
            raise ValueError("Can only specify hours if frequency is Week or Day.")
        if self.frequency not in ("Day", "Week") and self.minutes is not None:
            raise ValueError("Can only specify minutes if frequency is Week or Day.")
        if self.frequency != "Week" and self.week_days is not None:
            raise ValueError("Can only specify week days if frequency is Week.")
        for hour in self.hours or ():
            if not isinstance(hour, int) or not 0 <= hour <= 23:
                raise ValueError("Hours must be between 0 and 23.")
        for minute in self.minutes or ():
            if not isinstance(minute, int) or not 0 <= minute <= 59:
                raise ValueError("Minutes must be between 0 and 59.")
        for day in self.week_days or ():
            if day not in WEEK_DAYS:
                raise ValueError("Week days must be a list of str, accepted values: Monday, "
                                 "Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday.")
        if self.time_zone is not None and not isinstance(self.time_zone, TimeZone):
            raise ValueError("Time zone is not a valid TimeZone enum.")
        if self.start_time is not None and self.time_zone is None:
            raise ValueError("Must specify time_zone if start_time is provided.")
        if self.start_time is not None:
            _parse_start(self.start_time)   # amlocal fires it, so it must be readable

    def _spec(self) -> RecurrenceSpec:
        """The validated recurrence as plain data."""
        self.validate()
        return RecurrenceSpec(
            frequency=self.frequency, interval=self.interval,
            start_time=_parse_start(self.start_time) if self.start_time else None,
            time_zone=self.time_zone.value if self.time_zone is not None else "UTC",
            hours=tuple(self.hours) if self.hours is not None else None,
            minutes=tuple(self.minutes) if self.minutes is not None else None,
            week_days=tuple(self.week_days) if self.week_days is not None else None)

    @classmethod
    def _from_spec(cls, spec: RecurrenceSpec | dict) -> "ScheduleRecurrence":
        if isinstance(spec, dict):
            spec = RecurrenceSpec.from_dict(spec)
        return cls(spec.frequency, spec.interval, start_time=spec.start_time,
                   time_zone=TimeZone(spec.time_zone) if spec.start_time or spec.time_zone != "UTC"
                   else None,
                   hours=list(spec.hours) if spec.hours is not None else None,
                   minutes=list(spec.minutes) if spec.minutes is not None else None,
                   week_days=list(spec.week_days) if spec.week_days is not None else None)

    def __eq__(self, other) -> bool:
        return isinstance(other, ScheduleRecurrence) and vars(self) == vars(other)

    __hash__ = None

    def __repr__(self) -> str:
        parts = [f"frequency={self.frequency!r}", f"interval={self.interval!r}"]
        for key in ("start_time", "time_zone", "hours", "minutes", "week_days"):
            if getattr(self, key) is not None:
                parts.append(f"{key}={getattr(self, key)!r}")
        return f"ScheduleRecurrence({', '.join(parts)})"


def _parse_start(text) -> str:
    """A start_time string in ``YYYY-MM-DDThh:mm:ss`` (seconds optional), naive."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"start_time {text!r} is not a date and time: use a naive datetime or "
                         "a string 'YYYY-MM-DDThh:mm:ss', e.g. '2024-01-31T09:00:00'") from None
    if value.tzinfo is not None:
        raise ValueError("Can not specify tzinfo for start_time, use time_zone instead.")
    return value.strftime(START_TIME_FORMAT)
