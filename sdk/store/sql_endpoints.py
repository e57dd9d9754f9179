"""Pipeline endpoints in the store (SqlStore mixin). Filled by the PipelineEndpoint work."""
from __future__ import annotations


class PipelineEndpointStore:
    """Mixin of SqlStore (uses its ``_engine``)."""
