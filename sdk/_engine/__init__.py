"""The execution layer: everything that turns a run request into containers and back.

It owns submitting a run request (``submit``), scheduling the DAG (``runner``), planning a step
(``plan``: the one place that builds a step's mounts, environment variables and command),
reuse (``reuse``), outputs (``outputs``), snapshots (``snapshot``), reruns (``rerun``), settling
runs whose runner died (``settle``) and starting served steps (``served``). The azureml facades
above describe work and hand it here as typed data (``graph``); the layers below run it
(``amlocal.compute``), move bytes (``amlocal.datastores``) and keep state (``amlocal.store``).
Nothing here imports a facade (checked by import-linter, see ``.importlinter``).
"""
