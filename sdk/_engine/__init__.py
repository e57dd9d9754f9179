"""The execution layer: everything that turns a run request into containers and back.

It owns submitting a run request (``submit``), scheduling the DAG (``runner``), planning a step
(``plan``: the one place that builds a step's mounts, environment variables and command),
reuse (``reuse``), outputs (``outputs``), snapshots (``snapshot``), reruns (``rerun``), settling
runs whose runner died (``settle``), starting served steps (``served``, with ``http_guard`` and
``worker_wire``), the studio server's process (``studio``) and the MLflow tracking protocol over
any store (``mlflow_tracking``, used by the server and by the proxy inside steps). The azureml facades
above describe work and hand it here as typed data (``graph``); the layers below run it
(``amlocal.compute``), move bytes (``amlocal.datastores``) and keep state (``amlocal.store``).
Nothing here imports a facade (checked by import-linter, see ``.importlinter``).
"""
