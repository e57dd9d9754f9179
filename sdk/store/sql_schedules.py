"""Schedules in the store (SqlStore mixin). Filled by the Schedule work."""
from __future__ import annotations


class ScheduleStore:
    """Mixin of SqlStore (uses its ``_engine``)."""
