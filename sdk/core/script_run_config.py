"""ScriptRunConfig: one script submitted as a run of an experiment, as ``azureml.core.script_run_config``.

It runs through the same runner as a pipeline step (one entry command); the run is a plain run
(``<experiment>_<unix time>_<8 hex>``, status Completed/Failed/Canceled) with no pipeline around
it.

**Where a run on the ``'local'`` target executes** follows Azure's local-run matrix, read from
``run_config.docker.use_docker`` and ``run_config.environment.python.user_managed_dependencies``:

=============  ============  ==================================================================
user-managed   Docker        what runs
=============  ============  ==================================================================
True           off           ``interpreter_path`` (default ``python``, the first on PATH) on
                             this machine as it is, nothing installed (compute kind ``host``)
False          off           a virtualenv on this machine built from the environment's lock and
                             cached by its digest (compute kind ``local``)
False          on            the environment's image (compute kind ``docker``)
True           on            the base image as it is, running ``interpreter_path`` in it
=============  ============  ==================================================================

``run_config.docker`` is derived as the wheel derives it: the ``docker_runtime_config`` given;
else, when an ``environment`` is given, from its (deprecated but honoured) ``docker.enabled``,
``shm_size``, ``shared_volumes`` and ``arguments``; else RunConfiguration's own default
(``use_docker=False``). A ``run_config`` given as a whole is used as it is, except that its
environment's ``docker.enabled = True`` also turns Docker on (older samples set only that; a
choice where the reference is silent). A run on any other
target runs as that target says (a registered docker target runs in a container, a ``local``
target in a virtualenv). Pipelines are not affected: their steps run in containers unless the
step's target says otherwise.

Deliberate differences: ``command=`` and ``resume_from=`` are refused with an error (only
``script`` + ``arguments`` run); ``credential_passthrough`` has no effect (there are no
credentials to pass on this machine). The arguments are read as Azure reads them (a dataset's
consumption config is an input, an OutputFileDatasetConfig an output); a DataReference object in
them must also be in ``run_config.data_references`` (Azure would pass its placeholder unresolved),
and a pipeline's own objects (PipelineData, PipelineParameter, DataPath tuples) are refused with an
error instead of being passed as text.
"""
from __future__ import annotations

import copy
import logging
import re
import time
import uuid

module_logger = logging.getLogger(__name__)

_EXECUTION = {"host": "a process of the environment's interpreter on this machine "
                      "(user-managed dependencies, Docker off)",
              "local": "a process in a virtualenv built from the environment's lock (Docker off)",
              "docker": "a container of the environment's image (Docker on)"}


def submit(script_run_config, workspace, experiment_name, run_id=None, _parent_run_id=None,
           credential_passthrough=False):
    """Submit ``script_run_config`` as a run of experiment ``experiment_name`` in ``workspace``
    and return the run at once (``run.wait_for_completion()`` follows it).

    ``run_id`` names the run (default ``<experiment>_<unix time>_<8 hex>``); it must not exist.
    Raises UserErrorException for an invalid configuration (before anything runs).
    """
    from .experiment import Experiment
    experiment = Experiment(workspace, experiment_name)
    run_config = get_run_config_from_script_run(script_run_config)
    run_config.credential_passthrough = bool(credential_passthrough)
    return _start(experiment, script_run_config.source_directory, run_config,
                  run_id=run_id, parent_run_id=_parent_run_id)


def get_run_config_from_script_run(script_run_config):
    """A deep copy of the configuration's RunConfiguration, with its ``arguments``, ``script``
    and ``command`` copied in from ``script_run_config`` where they are set.

    A ``run_config`` given by name is loaded from ``<source_directory>/.azureml/<name>.runconfig``.
    """
    from .runconfig import RunConfiguration
    base = script_run_config.run_config
    if isinstance(base, str):
        run_config = RunConfiguration.load(script_run_config.source_directory, name=base)
    else:
        run_config = copy.deepcopy(base)
    if script_run_config.arguments:
        run_config.arguments = copy.deepcopy(list(script_run_config.arguments)
                                             if not isinstance(script_run_config.arguments, str)
                                             else [script_run_config.arguments])
    if script_run_config.script:
        run_config.script = script_run_config.script
    if script_run_config.command:
        run_config.command = script_run_config.command
    return run_config


def local_execution(run_config) -> str:
    """The compute kind a run on the ``'local'`` target gets (the module docstring's matrix):
    ``docker`` when Docker is on, else ``host`` for user-managed dependencies, else ``local``.

    Docker is on when ``run_config.docker.use_docker`` is, or when the run configuration's
    environment still says ``docker.enabled = True`` (older v1 samples set only that on a
    RunConfiguration they pass whole; the flag is deprecated but honoured)."""
    docker = bool(getattr(run_config.docker, "use_docker", False))
    env_docker = getattr(run_config.environment, "docker", None)
    if docker or bool(getattr(env_docker, "enabled", False)):
        return "docker"
    return "host" if run_config.environment.python.user_managed_dependencies else "local"


class ScriptRunConfig:
    """``ScriptRunConfig(source_directory, script=None, arguments=None, run_config=None,
    _telemetry_values=None, compute_target=None, environment=None, distributed_job_config=None,
    resume_from=None, max_run_duration_seconds=2592000, command=None,
    docker_runtime_config=None)``.

    Without ``run_config`` a new RunConfiguration gets ``compute_target`` (default
    ``'local'``), ``environment`` (default ``Environment('default-environment')``),
    ``max_run_duration_seconds`` and the Docker settings (see the module docstring). With
    ``run_config``, those arguments are ignored (a warning says so), and its ``script``,
    ``arguments`` and ``command`` are used where this call gives none.

    Raises RunConfigurationException for a ``docker_runtime_config`` that is not a
    DockerConfiguration; UserErrorException for ``command`` or ``resume_from`` (not supported).
    """

    MAX_DURATION_SECONDS_DEFAULT = 2592000

    def __init__(self, source_directory: str, script: str | None = None, arguments=None,
                 run_config=None, _telemetry_values=None, compute_target=None, environment=None,
                 distributed_job_config=None, resume_from=None,
                 max_run_duration_seconds: int = MAX_DURATION_SECONDS_DEFAULT, command=None,
                 docker_runtime_config=None):
        from ..errors import RunConfigurationException, UserErrorException
        from .environment import Environment
        from .runconfig import DockerConfiguration, RunConfiguration
        self.source_directory = source_directory
        self.script = script
        self.command = command
        self.arguments = arguments
        if run_config is not None:
            ignored = [compute_target, environment, distributed_job_config, docker_runtime_config]
            if max_run_duration_seconds != self.MAX_DURATION_SECONDS_DEFAULT or any(
                    v is not None for v in ignored):
                module_logger.warning(
                    "If 'run_config' is specified, the following parameters will be ignored: "
                    "'compute_target', 'environment', 'distributed_job_config', "
                    "'max_run_duration_seconds', and 'docker_runtime_config'.")
            if not isinstance(run_config, str):
                if run_config.script and not self.script:
                    self.script = run_config.script
                if run_config.arguments and not self.arguments:
                    self.arguments = run_config.arguments
                if run_config.command and not self.command:
                    self.command = run_config.command
            self.run_config = run_config
        else:
            rc = RunConfiguration()
            rc.target = compute_target if compute_target is not None else "local"
            rc.environment = environment if environment is not None else Environment(
                "default-environment")
            rc.max_run_duration_seconds = max_run_duration_seconds
            if distributed_job_config is not None:
                count = getattr(distributed_job_config, "worker_count", None) or getattr(
                    distributed_job_config, "node_count", None)
                rc.node_count = int(count or 1)
            if docker_runtime_config is not None:
                if not isinstance(docker_runtime_config, DockerConfiguration):
                    raise RunConfigurationException(
                        "'docker_runtime_config' must be a 'DockerConfiguration' object, e.g. "
                        "DockerConfiguration(use_docker=True)")
                rc.docker = docker_runtime_config
            elif environment is not None and environment.docker is not None:
                # env.docker.enabled is deprecated but honoured, as the wheel does
                rc.docker = DockerConfiguration(
                    use_docker=bool(environment.docker.enabled),
                    shm_size=environment.docker.shm_size or rc.docker.shm_size,
                    shared_volumes=bool(environment.docker.shared_volumes),
                    arguments=list(environment.docker.arguments or []))
            self.run_config = rc
        if self.command:
            raise UserErrorException(
                "ScriptRunConfig(command=...) is not supported by amlocal; give the script and "
                "its arguments: ScriptRunConfig(source_directory, script='train.py', "
                "arguments=[...])")
        if resume_from is not None:
            raise UserErrorException(
                "ScriptRunConfig(resume_from=...) is not supported by amlocal; pass the "
                "checkpoint folder as an argument instead, e.g. "
                "arguments=['--resume-from', datapath_or_dataset.as_mount()]")
        self._telemetry_values = _telemetry_values

    def _submit_to_experiment(self, experiment, run_id=None, _parent_run_id=None,
                              credential_passthrough=False, **kwargs):
        if kwargs:
            from ..errors import UserErrorException
            raise UserErrorException(
                f"a ScriptRunConfig is submitted without {', '.join(sorted(kwargs))} (those "
                "are pipeline submission arguments)")
        run_config = get_run_config_from_script_run(self)
        run_config.credential_passthrough = bool(credential_passthrough)
        return _start(experiment, self.source_directory, run_config, run_id=run_id,
                      parent_run_id=_parent_run_id)


def _start(experiment, source_directory, run_config, *, run_id=None, parent_run_id=None):
    """Freeze the run's single step, check it, and submit it to the execution layer (which
    records the run and starts its runner); return the ScriptRun."""
    import os
    from pathlib import Path

    from .. import _settings
    from .._engine.graph import GRAPH_FORMAT, Graph, RunRequest
    from .._engine.snapshot import take_snapshot
    from .._engine.submit import Submission, submit
    from ..errors import UserErrorException, ValidationError
    from ._freeze_step import StepDefinition, freeze_step
    from .script_run import ScriptRun

    if not run_config.script:
        raise UserErrorException("the run has no script: ScriptRunConfig(source_directory, "
                                 "script='train.py')")
    arguments = run_config.arguments
    arguments = [arguments] if isinstance(arguments, str) else list(arguments or [])
    inputs, outputs = _script_io(arguments, run_config)
    step = StepDefinition(
        name=run_config.script, script_name=run_config.script,
        source_directory=Path(source_directory or os.getcwd()).resolve(), runconfig=run_config,
        compute_target=run_config.target, arguments=tuple(arguments), inputs=tuple(inputs),
        outputs=tuple(outputs), allow_reuse=False)
    ws = experiment.workspace
    errors: list[str] = []
    node, parameters = freeze_step(step, ws, node_id=re.sub(r"[^\w.\-]", "_", step.name),
                                   errors=errors, local_kind=local_execution(run_config))
    if errors:
        raise ValidationError(errors)
    _check_interpreter(node)
    from .._engine.snapshot import shared_files
    node["snapshot"] = take_snapshot(step.source_directory, _settings.current().snapshots,
                                     shared=shared_files())
    graph = {"format": GRAPH_FORMAT, "description": None, "parameters": parameters,
             "steps": [node]}
    kind = node["compute"]["kind"]
    properties = {"azureml.runsource": "experiment"}
    if node["compute"]["name"] == "local":
        properties["amlocal.execution"] = f"{kind}: {_EXECUTION[kind]}"
    info = submit(ws._store, Submission(
        ws._id, experiment.name, kind="script",
        run_id=run_id or f"{experiment.name}_{int(time.time())}_{uuid.uuid4().hex[:8]}",
        name=run_config.script, target=node["compute"]["name"], parent_id=parent_run_id,
        properties=properties), RunRequest(Graph.from_dict(graph), {}, node_id=node["id"]))
    return ScriptRun(experiment, info.id, _info=info)


def _script_io(arguments: list, run_config) -> tuple[list, list]:
    """``(inputs, outputs)`` of a run, read from its arguments as Azure reads a ScriptRunConfig's:
    a dataset's consumption config (``as_named_input``, ``as_mount``, ``as_download``) is an
    input, an OutputFileDatasetConfig an output; both stay in the arguments (their paths replace
    them in the script's argv). A DataReference must be bound through
    ``run_config.data_references``. Raises UserErrorException for a bare dataset and for the
    pipeline's own objects (PipelineData, PipelineParameter, DataPath tuples ...)."""
    from ..data.data_reference import DataReference
    from ..errors import UserErrorException
    from ._freeze_step import is_output_config

    inputs: list = []
    outputs: list = []
    for arg in arguments:
        kind = type(arg).__name__
        if kind in ("FileDataset", "TabularDataset"):
            raise UserErrorException(
                f"a {kind} cannot be used directly in the arguments of a run: say how the "
                "script gets it, e.g. dataset.as_named_input('data').as_mount() (or "
                "as_download(), or as_named_input('data') for a TabularDataset)")
        if isinstance(arg, tuple) or type(arg).__module__.startswith("amlocal.pipeline."):
            raise UserErrorException(
                f"{kind} {arg!r} in the arguments of a ScriptRunConfig: it belongs to a pipeline "
                "(a step's input or output, or a pipeline parameter); use it in a "
                "PythonScriptStep, or give the run a dataset's as_named_input()/as_mount(), an "
                "OutputFileDatasetConfig or a string")
        if isinstance(arg, DataReference):
            name = arg.data_reference_name
            if name not in (getattr(run_config, "data_references", None) or {}):
                raise UserErrorException(
                    f"DataReference '{name}' is in the arguments but not in "
                    f"run_config.data_references, so the run would not get its data: add "
                    f"run_config.data_references = {{'{name}': reference.to_config()}}")
        elif is_output_config(arg):
            if all(arg is not o for o in outputs):
                outputs.append(arg)
        elif hasattr(arg, "arg_val") and hasattr(arg, "dataset") and hasattr(arg, "mode"):
            if all(arg is not i for i in inputs):
                inputs.append(arg)
    names = [getattr(i, "name", None) for i in inputs] + [o.name for o in outputs]
    repeated = sorted({n for n in names if n is not None and names.count(n) > 1})
    if repeated:
        raise UserErrorException(
            f"the run's inputs and outputs must have distinct names; '{repeated[0]}' names two "
            "of them: pass another name to as_named_input(...) or OutputFileDatasetConfig(name=...)")
    return inputs, outputs


def _check_interpreter(node: dict) -> None:
    """A run that uses an interpreter of this machine as it is (user-managed dependencies,
    outside a container) fails before anything is recorded when there is no such interpreter."""
    from amlocal.compute import Capability, get_backend
    if not node["environment"].get("user_managed") or \
            Capability.CONTAINER in get_backend(node["compute"]["kind"]).capabilities:
        return
    from amlocal.compute.base import EnvironmentSpec
    from amlocal.compute.host import find_interpreter
    from ..errors import EnvironmentBuildError, UserErrorException
    try:
        find_interpreter(EnvironmentSpec.from_dict(node["environment"]))
    except EnvironmentBuildError as exc:
        raise UserErrorException(str(exc)) from None
