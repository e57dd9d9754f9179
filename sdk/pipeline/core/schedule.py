"""``azureml.pipeline.core.schedule``. Schedules need a long-running server that fires them,
which amlocal does not have yet: the names import, and using them raises an error that says so
and what to use meanwhile."""
from __future__ import annotations

from ..._cloud_only import cloud_only_class

_MODULE = "azureml.pipeline.core.schedule"
_REASON = "schedules need amlocal's server to fire them, which is not built yet"
_INSTEAD = ("submit the published pipeline from your own scheduler (cron, systemd timer) with "
            "`amlocal run submit-pipeline --pipeline-id ID`")

Schedule = cloud_only_class(_MODULE, "Schedule", _REASON, _INSTEAD)
ScheduleRecurrence = cloud_only_class(_MODULE, "ScheduleRecurrence", _REASON, _INSTEAD)
TimeZone = cloud_only_class(_MODULE, "TimeZone", _REASON, _INSTEAD)
