"""``amlocal.server``: the host processes that serve amlocal over HTTP: the studio server of a
home (``python -m amlocal.server``, ``amlocal studio``: the REST API with its OpenAPI document,
MLflow tracking, schedules) and the pipeline web services (:mod:`.pipeline_service`).
Importing this package imports nothing else."""
