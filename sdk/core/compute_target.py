"""``azureml.core.compute_target``: the legacy module for compute targets Azure ML does not
manage, and the home samples import ``ComputeTargetException`` from.

* :class:`LocalTarget` is the local machine (type and name ``'local'``); it can be given as a
  run configuration's target (``run_config.target = LocalTarget()``).
* :func:`prepare_compute_target` builds the environment a run configuration asks for on its
  target (the step image, or the local target's virtualenv) so that the first run starts at
  once; :func:`is_compute_target_prepared` says whether that is done. Deliberate difference:
  Azure returns the ScriptRun of a preparation run; amlocal prepares in this process, prints
  the build's progress and returns None (there is no run to wait for).
* :func:`attach_legacy_compute_target` / :func:`remove_legacy_compute_target` attached SSH
  machines and Batch AI clusters to a project: cloud-only (CloudOnlyError).

Only the standard library is imported at module level.
"""
from __future__ import annotations

import os

from .._cloud_only import cloud_only_function
from ..errors import ComputeTargetException, UserErrorException

__all__ = ["AbstractComputeTarget", "ComputeTargetException", "LocalTarget", "UserErrorException",
           "attach_legacy_compute_target", "is_compute_target_prepared",
           "prepare_compute_target", "remove_legacy_compute_target"]


class AbstractComputeTarget:
    """A compute target Azure ML does not manage: a ``type`` and a ``name``."""

    _TARGET_TYPE_KEY = "type"

    def __init__(self, compute_target_type: str, name: str):
        self._compute_target_type = compute_target_type
        self._name = name
        self._default_framework = "Python"

    @property
    def type(self) -> str:
        return self._compute_target_type

    @property
    def name(self) -> str:
        return self._name

    @staticmethod
    def deserialize_from_dict(compute_target_name: str, compute_target_dict: dict):
        """The target a project's ``.compute`` file describes: a :class:`LocalTarget` for type
        ``local``, None for other types (as Azure, which knows only its Batch AI type here).
        Raises ComputeTargetException without a ``type``."""
        if AbstractComputeTarget._TARGET_TYPE_KEY not in (compute_target_dict or {}):
            raise ComputeTargetException(
                f"type required field is not present in {compute_target_dict} dict for "
                "creating the require compute target object.")
        if compute_target_dict["type"] == LocalTarget._LOCAL_TYPE:
            return LocalTarget()
        return None

    def _serialize_to_dict(self) -> dict:
        return {self._TARGET_TYPE_KEY: self._compute_target_type}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type!r}, name={self.name!r})"


class LocalTarget(AbstractComputeTarget):
    """The local machine as a compute target: type and name ``'local'``."""

    _LOCAL_TYPE = "local"

    def __init__(self):
        super().__init__(LocalTarget._LOCAL_TYPE, "local")


def _run_configuration(source_directory, run_config):
    """A RunConfiguration object: ``run_config`` itself, or the one named so in
    ``source_directory`` (``.azureml/<name>.runconfig`` or ``aml_config/<name>.runconfig``)."""
    from .runconfig import RunConfiguration
    if isinstance(run_config, RunConfiguration):
        return run_config
    if isinstance(run_config, str):
        return RunConfiguration.load(os.fspath(source_directory), run_config)
    raise UserErrorException(
        f"run_config must be a RunConfiguration or the name of one saved in the source "
        f"directory, not {run_config!r}")


def _backend_and_spec(experiment, source_directory, run_config):
    from ..compute import get_backend
    config = _run_configuration(source_directory, run_config)
    _, kind = resolve_target(experiment.workspace, config.target)
    return get_backend(kind), kind, config.environment._to_spec()


def resolve_target(workspace, target) -> tuple[str, str]:
    """(name, kind) for a step's compute target: an object, a name, a ``(name, type)`` tuple, or
    None/'local' (the local Docker default). Unknown names raise before anything runs."""
    from .compute.compute import ComputeTarget
    if target is None:
        return "local", "docker"
    if isinstance(target, tuple):
        target = target[0]
    if isinstance(target, ComputeTarget):
        return target.name, target.kind
    if isinstance(target, AbstractComputeTarget):   # LocalTarget(), the legacy 'local' target
        target = target.name
    if isinstance(target, str):
        if target == "local":
            return "local", "docker"
        info = workspace._store.get_compute_target(workspace._id, target)
        if info is None:
            ComputeTarget._lookup(workspace, target)  # raises with the known names
        return info.name, info.kind
    raise ComputeTargetException(f"compute_target must be a ComputeTarget, a name or None, not "
                                 f"{target!r}")


def prepare_compute_target(experiment, source_directory, run_config) -> None:
    """Build what ``run_config`` needs on its target, now: lock its environment and build the
    image (docker targets) or the virtualenv (local-process targets) unless it exists.

    ``run_config`` is a RunConfiguration or the name of one saved in ``source_directory``.
    Returns None (Azure returns the ScriptRun of its preparation run). Raises
    ComputeTargetException for an unknown target, UserErrorException for an environment amlocal
    cannot build, EnvironmentBuildError naming a package that fails to install.
    """
    backend, _, spec = _backend_and_spec(experiment, source_directory, run_config)
    backend.prepare(spec, print)


def is_compute_target_prepared(experiment, source_directory, run_config) -> bool:
    """True when ``run_config``'s environment is already built on its target (its image, or
    the local target's virtualenv, exists), so a run would start without building. Locking the
    environment may resolve packages (a recorded lock is reused); nothing is built."""
    from ..compute import environments
    backend, kind, spec = _backend_and_spec(experiment, source_directory, run_config)
    if kind == "local":
        from ..compute.local import COMPLETE_MARKER, resolve_for_host, venv_path
        return (venv_path(resolve_for_host(spec, print)) / COMPLETE_MARKER).is_file()
    from ..compute import images
    return images.image_exists(environments.resolve(spec, print).image)


_LEGACY = ("it attaches an SSH machine or a Batch AI cluster to an Azure ML project, which "
           "Azure has deprecated")
attach_legacy_compute_target = cloud_only_function(
    "azureml.core.compute_target", "attach_legacy_compute_target", _LEGACY,
    "register a local target with ComputeTarget.create(ws, name, "
    "AmlCompute.provisioning_configuration()) (docker) or pass compute_target='local'")
remove_legacy_compute_target = cloud_only_function(
    "azureml.core.compute_target", "remove_legacy_compute_target", _LEGACY,
    "local compute targets need no removal; stop using the name")
