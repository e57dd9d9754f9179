"""RunConfiguration: where and with what a script runs, as azureml's ``azureml.core.runconfig``.

Kept: ``target``, ``node_count``, ``environment``, ``docker`` (:class:`DockerConfiguration`),
``history``, ``data``, ``output_data``, ``data_references``, ``environment_variables`` and the
script/command fields, with azureml's defaults. The distributed-training sections (mpi,
tensorflow, pytorch, spark, hdi, amlcompute ...) are not attributes of RunConfiguration:
assigning them raises AttributeError. Their classes (MpiConfiguration, PyTorchConfiguration,
Data, OutputData ...) live in ``_runconfig_sections`` (DataReferenceConfiguration in
``amlocal.data.data_reference``) and are importable from here, as are the names azureml
re-exports for backward compatibility (Environment, PythonSection, DockerSection,
CondaDependencies, DatasetConsumptionConfig ...). ``save``/``load`` write and read the YAML
``.runconfig`` files of azureml (camelCase keys; snake_case is also read).

Only the standard library is imported at module level; PyYAML only by ``save`` and ``load``.
"""
from __future__ import annotations

import json
import os
import re

from ..data.dataset_consumption_config import DatasetConsumptionConfig
from ..errors import UserErrorException
from ._runconfig_sections import (SUPPORTED_DATAREF_MODES, SUPPORTED_DELIVERY_MECHANISM,
                                  SUPPORTED_PYTORCH_BACKENDS, AmlComputeConfiguration,
                                  ApplicationEndpointConfiguration, AzureContainerRegistry,
                                  ContainerRegistry, Data, DatacacheConfiguration, DataLocation,
                                  DataPath, DataReferenceConfiguration, Dataset,
                                  DatasetRegistrationOptions, EnvironmentDefinition, GlobsOptions,
                                  HdiConfiguration, KubernetesComputeConfiguration, MountOptions,
                                  MpiConfiguration, OutputData, OutputOptions,
                                  ParallelTaskConfiguration, PyTorchConfiguration,
                                  RegistrationOptions, SparkConfiguration,
                                  TensorflowConfiguration, UploadOptions, Uri)
from .conda_dependencies import CondaDependencies
from .environment import (_DEFAULT_SHM_SIZE, DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE,
                          DockerEnvironment, DockerSection, Environment, PythonEnvironment,
                          PythonSection, SparkEnvironment, SparkSection, _ConfigElement, _get)

MPI_CPU_IMAGE = DEFAULT_CPU_IMAGE
MPI_GPU_IMAGE = DEFAULT_GPU_IMAGE
LOCAL_RUNCONFIG_NAME = "local"
_RUNCONFIG_EXTENSION = ".runconfig"


class DockerConfiguration(_ConfigElement):
    """``DockerConfiguration(use_docker=False, shared_volumes=True, arguments=None,
    shm_size='2g')``: how the step's container is started.

    amlocal additions (Azure has no sandbox; both are keyword-only and off by default):

    - ``sandbox=False``: ``True`` runs the step sandboxed on a ``docker`` target: no network, a
      read-only root filesystem with a size-limited ``/tmp``, only the working directory and the
      step's outputs writable, a non-root user, all capabilities dropped, no privilege
      escalation. A ``local`` target cannot enforce this and refuses such a step.
    - ``allow_network=None``: ``None`` means "not said": ``False`` for a sandboxed step, ``True``
      otherwise (reading the attribute gives that effective value). ``True`` keeps the engine's
      default network inside the sandbox.

    Resource limits are read from Azure's ``arguments`` (``docker run`` flags; other entries are
    ignored): ``--memory=512m``, ``--memory 512m`` (one entry or two) and ``-m 512m`` become the
    container's memory limit (docker's ``--memory``: a number with an optional
    ``b``/``k``/``m``/``g`` unit, at least ``6m``); ``--cpus=1.5`` / ``--cpus 1.5`` its CPU quota
    (docker's ``--cpus``). A ``docker`` target applies them to sandboxed steps only; on a
    ``ray`` target they (and ``--gpus``) are every step's Ray resource request and Docker limits
    (``amlocal.core._runconfig_requests``); ``local`` targets ignore them.
    """

    def __init__(self, use_docker: bool = False, shared_volumes: bool = True,
                 arguments: list[str] | None = None, shm_size: str = _DEFAULT_SHM_SIZE, *,
                 sandbox: bool = False, allow_network: bool | None = None):
        self.use_docker = use_docker
        self.shared_volumes = shared_volumes
        self.arguments = list(arguments) if arguments else []
        self.shm_size = shm_size
        self.sandbox = bool(sandbox)
        self._allow_network = allow_network
        self._initialized = True

    @property
    def allow_network(self) -> bool:
        """Whether a sandboxed step keeps network access (default: not when sandboxed)."""
        return (not self.sandbox) if self._allow_network is None else bool(self._allow_network)

    @allow_network.setter
    def allow_network(self, value: bool | None) -> None:
        self._allow_network = None if value is None else bool(value)

    def _limits(self) -> dict:
        """``{"memory": "512m", "cpus": 1.5}`` from ``arguments`` (only the keys given).

        Raises UserErrorException for a flag without a value or a value docker would refuse.
        """
        tokens = [t for a in self.arguments for t in str(a).split()]
        limits: dict = {}
        i = 0
        while i < len(tokens):
            flag, sep, value = tokens[i].partition("=")
            key = {"--memory": "memory", "-m": "memory", "--cpus": "cpus"}.get(flag)
            if key is not None and not sep:
                if i + 1 >= len(tokens):
                    raise UserErrorException(
                        f"run_config.docker.arguments: {flag} needs a value, e.g. "
                        f"{'--memory=512m' if key == 'memory' else '--cpus=1.5'}")
                i += 1
                value = tokens[i]
            if key == "memory":
                limits["memory"] = _check_memory(value)
            elif key == "cpus":
                limits["cpus"] = _check_cpus(value)
            i += 1
        return limits

    def _sandbox_spec(self) -> dict | None:
        """The step sandbox this configuration asks for (``StepSpec.sandbox``), or None."""
        if not self.sandbox:
            return None
        return {"network": self.allow_network, **self._limits()}


_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)b?$")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def _check_memory(value: str) -> str:
    match = _MEMORY.match(value.strip().lower())
    if not match:
        raise UserErrorException(
            f"run_config.docker.arguments: memory limit {value!r} is not a size; use a number "
            "with one of the units b, k, m, g, e.g. --memory=512m")
    if float(match.group(1)) * _UNITS[match.group(2)] < 6 * 1024 ** 2:
        raise UserErrorException(
            f"run_config.docker.arguments: memory limit {value!r} is below docker's minimum of "
            "6m; use e.g. --memory=512m")
    return match.group(1) + (match.group(2) or "b")


def _check_cpus(value: str) -> float:
    try:
        cpus = float(value)
    except ValueError:
        cpus = 0.0
    if not cpus > 0 or cpus != cpus or cpus == float("inf"):
        raise UserErrorException(
            f"run_config.docker.arguments: --cpus {value!r} is not a positive number of CPUs; "
            "use e.g. --cpus=1.5")
    return cpus


class HistoryConfiguration(_ConfigElement):
    """``output_collection`` (upload ./outputs), ``snapshot_project``, ``directories_to_watch``."""

    def __init__(self, output_collection: bool = True, snapshot_project: bool = True,
                 directories_to_watch: list[str] | None = None):
        self.output_collection = output_collection
        self.snapshot_project = snapshot_project
        self.directories_to_watch = list(directories_to_watch) if directories_to_watch else ["logs"]
        self._initialized = True


def _deprecated_auto_prepare() -> None:
    import logging
    logging.getLogger("amlocal.core.runconfig").warning(
        "'auto_prepare_environment' is deprecated and unused. It will be removed in a future release.")


class RunConfiguration(_ConfigElement):
    """``RunConfiguration(script=None, arguments=None, framework=None, communicator=None,
    conda_dependencies=None, _history_enabled=None, _path=None, _name=None, command=None)``.

    ``conda_dependencies`` is stored at ``run_config.environment.python.conda_dependencies``;
    there is no ``run_config.conda_dependencies`` attribute (AttributeError, as in azureml).
    """

    _HINTS = {
        "conda_dependencies": "use run_config.environment.python.conda_dependencies",
        "compute_target": "use run_config.target",
        "base_image": "use run_config.environment.docker.base_image",
        "use_docker": "use run_config.docker.use_docker",
    }

    def __init__(self, script: str | None = None, arguments: list | None = None,
                 framework: str | None = None, communicator: str | None = None,
                 conda_dependencies: CondaDependencies | None = None,
                 _history_enabled: bool | None = None, _path: str | None = None,
                 _name: str | None = None, command: list | str | None = None):
        self._name = _name
        self._path = _path
        self.script = script
        self.command = command if command else ""
        self.arguments = list(arguments) if arguments else []
        self._target = LOCAL_RUNCONFIG_NAME
        self.framework = framework if framework else "Python"
        self.communicator = communicator if communicator else "None"
        self.max_run_duration_seconds = None
        self.node_count = 1
        self.priority = None
        self.environment = Environment(name="default-environment")
        self.history = HistoryConfiguration()
        self.docker = DockerConfiguration()
        # Azure's other sections, kept as data (distributed training, Spark, HDInsight and
        # Kubernetes settings only matter on Azure compute; amlocal runs one process)
        self.spark = SparkConfiguration()
        self.hdi = HdiConfiguration()
        self.tensorflow = TensorflowConfiguration()
        self.mpi = MpiConfiguration()
        self.pytorch = PyTorchConfiguration()
        self.paralleltask = ParallelTaskConfiguration()
        self.amlcompute = AmlComputeConfiguration()
        self.kubernetescompute = KubernetesComputeConfiguration()
        self.datacaches = []
        self.services = {}
        self.auto_cluster_compute_specification = None
        self.data_references = {}
        self.data = {}
        self.output_data = {}
        self.environment_variables = {}
        self.source_directory_data_store = None
        self.credential_passthrough = False
        if _history_enabled:
            self.history.output_collection = _history_enabled
        self.environment.python.conda_dependencies = conda_dependencies or CondaDependencies()
        self._initialized = True

    @property
    def auto_prepare_environment(self) -> bool:
        """Deprecated and unused, as in azureml: reads True, setting it does nothing (both
        warn)."""
        _deprecated_auto_prepare()
        return True

    @auto_prepare_environment.setter
    def auto_prepare_environment(self, _value) -> None:
        _deprecated_auto_prepare()

    @property
    def target(self) -> str:
        """The name of the compute target; default ``'local'``."""
        return self._target

    @target.setter
    def target(self, target) -> None:
        if isinstance(target, str):
            self._target = target
        elif isinstance(getattr(target, "name", None), str):
            self._target = target.name
        else:
            raise UserErrorException(
                f"run_config.target must be a compute target name (str) or a compute target "
                f"object with a .name, e.g. ComputeTarget(ws, 'cpu-cluster'); got {target!r}")

    # -- serialisation ----------------------------------------------------------------------
    def _serialize_to_dict(self) -> dict:
        """camelCase JSON-ready data, as azureml writes ``.runconfig`` files."""
        return {
            "script": self.script,
            "command": self.command,
            "arguments": [_plain(a) for a in self.arguments],
            "target": self.target,
            "framework": self.framework,
            "communicator": self.communicator,
            "maxRunDurationSeconds": self.max_run_duration_seconds,
            "nodeCount": self.node_count,
            "priority": self.priority,
            "environment": self.environment._serialize_to_dict(),
            "history": {"outputCollection": self.history.output_collection,
                        "snapshotProject": self.history.snapshot_project,
                        "directoriesToWatch": list(self.history.directories_to_watch)},
            "docker": {"useDocker": self.docker.use_docker,
                       "sharedVolumes": self.docker.shared_volumes,
                       "arguments": list(self.docker.arguments),
                       "shmSize": self.docker.shm_size,
                       **_sandbox_keys(self.docker)},
            "dataReferences": _plain(self.data_references),
            "data": _plain(self.data),
            "outputData": _plain(self.output_data),
            "sourceDirectoryDataStore": self.source_directory_data_store,
            "credentialPassthrough": self.credential_passthrough,
            "environmentVariables": {str(k): str(v) for k, v in self.environment_variables.items()},
        }

    @staticmethod
    def _deserialize(data: dict, base_dir: str | None = None, _name: str | None = None,
                     _path: str | None = None) -> "RunConfiguration":
        """A RunConfiguration from :meth:`_serialize_to_dict` output; an environment's
        ``condaDependenciesFile`` is read relative to ``base_dir``."""
        rc = RunConfiguration(_name=_name, _path=_path)
        rc.script = data.get("script")
        rc.command = data.get("command") or ""
        rc.arguments = list(data.get("arguments") or [])
        rc.target = data.get("target") or LOCAL_RUNCONFIG_NAME
        rc.framework = data.get("framework") or "Python"
        rc.communicator = data.get("communicator") or "None"
        rc.max_run_duration_seconds = _get(data, "maxRunDurationSeconds")
        rc.node_count = _get(data, "nodeCount", 1) or 1
        rc.priority = data.get("priority")
        environment = data.get("environment")
        if environment:
            rc.environment = Environment._deserialize_and_add_to_object(environment)
            python = environment.get("python") or {}
            conda_file = _get(python, "condaDependenciesFile")
            if conda_file and not _get(python, "condaDependencies"):
                path = os.path.join(base_dir or ".", conda_file)
                rc.environment.python.conda_dependencies = CondaDependencies(path)
        history = data.get("history") or {}
        rc.history = HistoryConfiguration(
            bool(_get(history, "outputCollection", True)), bool(_get(history, "snapshotProject", True)),
            _get(history, "directoriesToWatch"))
        docker = data.get("docker") or {}
        rc.docker = DockerConfiguration(
            bool(_get(docker, "useDocker", False)), bool(_get(docker, "sharedVolumes", True)),
            _get(docker, "arguments"), _get(docker, "shmSize", _DEFAULT_SHM_SIZE),
            sandbox=bool(_get(docker, "sandbox", False)),
            allow_network=_get(docker, "allowNetwork"))
        rc.data_references = dict(_get(data, "dataReferences") or {})
        rc.data = dict(data.get("data") or {})
        rc.output_data = dict(_get(data, "outputData") or {})
        rc.source_directory_data_store = _get(data, "sourceDirectoryDataStore")
        rc.credential_passthrough = bool(_get(data, "credentialPassthrough", False))
        rc.environment_variables = dict(_get(data, "environmentVariables") or {})
        return rc

    def save(self, path: str | os.PathLike | None = None, name: str | None = None,
             separate_environment_yaml: bool = False) -> None:
        """Write the configuration as YAML.

        ``path`` a folder (default: the current one) saves ``<path>/.azureml/<name>.runconfig``;
        otherwise ``path`` is the file to write, in an existing folder. With
        ``separate_environment_yaml`` the conda specification goes to ``environment.yml`` beside
        it. Raises UserErrorException for a folder without a name or a path in a missing folder.
        """
        import yaml
        path = os.fspath(path or self._path or os.getcwd())
        if os.path.isdir(path):
            name = name or self._name
            if not name:
                raise UserErrorException(
                    "Cannot save a runconfig without a name specified: "
                    "run_config.save(path, name='train')")
            folder = os.path.join(path, ".azureml")
            os.makedirs(folder, exist_ok=True)
            target = os.path.join(folder, name if name.endswith(_RUNCONFIG_EXTENSION)
                                  else name + _RUNCONFIG_EXTENSION)
        else:
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise UserErrorException(
                    f"{path} argument is invalid: the folder {parent} does not exist")
            target = path
        data = self._serialize_to_dict()
        cd = self.environment.python.conda_dependencies
        if separate_environment_yaml and cd is not None:
            env_file = os.path.join(os.path.dirname(target), "environment.yml")
            cd.save(env_file)
            data["environment"]["python"]["condaDependencies"] = None
            data["environment"]["python"]["condaDependenciesFile"] = "environment.yml"
        with open(target, "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle, sort_keys=False, default_flow_style=False, width=10 ** 6)

    @staticmethod
    def load(path: str | os.PathLike, name: str | None = None) -> "RunConfiguration":
        """Read a configuration written by :meth:`save` (or by azureml).

        ``path`` is the file, or a project folder searched for ``.azureml/<name>.runconfig``
        and ``aml_config/<name>.runconfig``. Raises UserErrorException when nothing is found.
        """
        import yaml
        path = os.fspath(path)
        candidates = [path]
        if os.path.isdir(path):
            if not name:
                raise UserErrorException(
                    f"{path} is a folder: also give the runconfig name, "
                    "RunConfiguration.load(path, name='train')")
            stem = name if name.endswith(_RUNCONFIG_EXTENSION) else name + _RUNCONFIG_EXTENSION
            candidates = [os.path.join(path, sub, file) for sub in (".azureml", "aml_config")
                          for file in (stem, name)]
        found = next((c for c in candidates if os.path.isfile(c)), None)
        if found is None:
            raise UserErrorException(
                f"no run configuration found at {', '.join(candidates)}; write one with "
                "run_config.save(path, name)")
        with open(found, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise UserErrorException(f"{found} is not a run configuration (expected a YAML mapping)")
        return RunConfiguration._deserialize(data, base_dir=os.path.dirname(found),
                                             _name=name, _path=path)

    @staticmethod
    def delete(path: str | os.PathLike, name: str) -> None:
        """Delete the run configuration ``name`` saved in project folder ``path``
        (``.azureml/<name>.runconfig`` and the legacy ``aml_config/<name>.runconfig``).
        Raises UserErrorException when neither exists."""
        stem = name if name.endswith(_RUNCONFIG_EXTENSION) else name + _RUNCONFIG_EXTENSION
        candidates = [os.path.join(os.fspath(path), sub, stem) for sub in ("aml_config", ".azureml")]
        found = [c for c in candidates if os.path.isfile(c)]
        if not found:
            raise UserErrorException(f"Run config {name} not found in {os.fspath(path)} (looked "
                                     f"for {' and '.join(candidates)})")
        for candidate in found:
            os.remove(candidate)

    def __repr__(self) -> str:
        return json.dumps(self._serialize_to_dict(), indent=4)


def _sandbox_keys(docker: DockerConfiguration) -> dict:
    """amlocal's ``sandbox``/``allowNetwork`` keys, written only when set so that a file
    without a sandbox stays exactly what azureml writes."""
    keys = {"sandbox": True} if docker.sandbox else {}
    if docker._allow_network is not None:
        keys["allowNetwork"] = docker._allow_network
    return keys


def _plain(value):
    """JSON-ready data: objects that serialise themselves do so; anything else becomes str."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    for method in ("_serialize_to_dict", "to_dict"):
        if callable(getattr(value, method, None)):
            return _plain(getattr(value, method)())
    return str(value)


__all__ = ["AmlComputeConfiguration", "ApplicationEndpointConfiguration", "AzureContainerRegistry",
           "CondaDependencies", "ContainerRegistry", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE",
           "Data", "DataLocation", "DataPath", "DataReferenceConfiguration",
           "DatacacheConfiguration", "Dataset", "DatasetConsumptionConfig",
           "DatasetRegistrationOptions", "DockerConfiguration", "DockerEnvironment",
           "DockerSection", "Environment", "EnvironmentDefinition", "GlobsOptions",
           "HdiConfiguration", "HistoryConfiguration", "KubernetesComputeConfiguration",
           "LOCAL_RUNCONFIG_NAME", "MPI_CPU_IMAGE", "MPI_GPU_IMAGE", "MountOptions",
           "MpiConfiguration", "OutputData", "OutputOptions", "ParallelTaskConfiguration",
           "PyTorchConfiguration", "PythonEnvironment", "PythonSection", "RegistrationOptions",
           "RunConfiguration", "SUPPORTED_DATAREF_MODES", "SUPPORTED_DELIVERY_MECHANISM",
           "SUPPORTED_PYTORCH_BACKENDS", "SparkConfiguration", "SparkEnvironment", "SparkSection",
           "TensorflowConfiguration", "UploadOptions", "Uri"]
