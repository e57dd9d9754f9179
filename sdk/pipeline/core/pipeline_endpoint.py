"""``azureml.pipeline.core.pipeline_endpoint``. PipelineEndpoint needs a REST server in front of
published pipelines, which amlocal does not have yet: the names import, and using them raises an
error that says so and what to use meanwhile."""
from __future__ import annotations

from ..._cloud_only import cloud_only_class

_MODULE = "azureml.pipeline.core.pipeline_endpoint"
_REASON = "pipeline endpoints need amlocal's REST server, which is not built yet"
_INSTEAD = ("publish with pipeline.publish(...) and submit with PublishedPipeline.submit or "
            "`amlocal run submit-pipeline --pipeline-id ID`")

PipelineEndpoint = cloud_only_class(_MODULE, "PipelineEndpoint", _REASON, _INSTEAD)
PipelineVersion = cloud_only_class(_MODULE, "PipelineVersion", _REASON, _INSTEAD)
PipelineIdVersion = cloud_only_class(_MODULE, "PipelineIdVersion", _REASON, _INSTEAD)
