"""The explicit current context: are we inside a job (a step run), and which store serves us.

Inside a step the runner sets typed environment variables (as mlflow hands a run to a child
process): the Azure ML ones that ``Run.get_context()`` reads, plus ``AMLOCAL_RUN_SERVICE``, the
address of the run service that stands in for the store (a ``unix://`` socket path mounted into
the container, or an ``http://host:port`` URL for a step on another machine). The job is read
from the environment at each call. Two things are kept: the current job's run object, so that
every ``Run.get_context()`` in a step returns the same run (and one metric buffer), as on Azure;
and the metric buffers this process made, which the step entry flushes when the script ends.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass

RUN_SERVICE_VAR = "AMLOCAL_RUN_SERVICE"


@dataclass(frozen=True)
class JobContext:
    run_id: str
    token: str
    service: str
    subscription_id: str
    resource_group: str
    workspace_name: str
    experiment: str


def job_context() -> JobContext | None:
    """The job this process runs in, or None outside a job."""
    env = os.environ
    if not env.get("AZUREML_RUN_ID") or not env.get(RUN_SERVICE_VAR):
        return None
    return JobContext(
        run_id=env["AZUREML_RUN_ID"],
        token=env.get("AZUREML_RUN_TOKEN", ""),
        service=env[RUN_SERVICE_VAR],
        subscription_id=env.get("AZUREML_ARM_SUBSCRIPTION", ""),
        resource_group=env.get("AZUREML_ARM_RESOURCEGROUP", ""),
        workspace_name=env.get("AZUREML_ARM_WORKSPACE_NAME", ""),
        experiment=env.get("AZUREML_ARM_PROJECT_NAME", ""),
    )


_current_run: dict = {}  # {run id: Run} for this process's job; see current_run()
_metric_buffers: "weakref.WeakSet" = weakref.WeakSet()  # see metric_buffers()


def current_run(build):
    """The run object of this process's job, made once by ``build(ctx)``; None outside a job."""
    ctx = job_context()
    if ctx is None:
        return None
    run = _current_run.get(ctx.run_id)
    if run is None:
        run = _current_run[ctx.run_id] = build(ctx)
    return run


def add_metric_buffer(buffer) -> None:
    """Remember a metric buffer of this process, so that the step entry can flush them all
    (and fail the step for what cannot be written) when the script ends."""
    _metric_buffers.add(buffer)


def metric_buffers() -> list:
    """The live metric buffers of this process."""
    return list(_metric_buffers)


def current_store():
    """The store for this process: the run service inside a job, the local database outside."""
    ctx = job_context()
    if ctx is not None:
        from .runservice.client import RemoteStore
        return RemoteStore(ctx.service, ctx.token)
    from .store import open_store
    return open_store()
