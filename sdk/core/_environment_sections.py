"""The sections of an :class:`~amlocal.core.environment.Environment` (``python``, ``docker``,
``spark``, the docker section's ``ContainerRegistry``) and azureml's default base images, as in
``azureml.core.environment`` (which re-exports every name here). Below the Environment, so the
rarer names built on the sections (:mod:`._environment_extras`) need no Environment.

Only the standard library is imported at module level (the module is mounted into step
containers).
"""
from __future__ import annotations

import logging
import os

from ..data._config_section import _ConfigElement
from .conda_dependencies import CondaDependencies

module_logger = logging.getLogger("amlocal.core.environment")

# azureml-core 1.61's values: the GPU image has no tag (the SDK's tag table has no entry for it).
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20251130.v1"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"
_DEFAULT_SHM_SIZE = "2g"


def _get(data: dict, camel: str, default=None):
    """``data[camel]``, or its snake_case spelling (runconfig files use either)."""
    if camel in data:
        return data[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return data.get(snake, default)


class ContainerRegistry(_ConfigElement):
    """The registry holding a private base image: ``address``, ``username``, ``password``.
    The password is kept in memory only."""

    def __init__(self, address: str | None = None, username: str | None = None,
                 password: str | None = None):
        self.address = address
        self.username = username
        self.password = password
        self.registry_identity = None
        self._initialized = True


class PythonSection(_ConfigElement):
    """``user_managed_dependencies`` (False: amlocal builds the environment from
    ``conda_dependencies``), ``interpreter_path`` (used only when user-managed)."""

    _HINTS = {"conda_dependencies_file":
              "load the file with Environment.from_conda_specification(name, path)"}

    def __init__(self, _skip_defaults: bool = False):
        self.interpreter_path = "python"
        self.user_managed_dependencies = False
        self.conda_dependencies = None if _skip_defaults else CondaDependencies()
        self.base_conda_environment = None
        self._initialized = True


class DockerSection(_ConfigElement):
    """The image a step's environment is built on. ``base_image`` and ``base_dockerfile`` are
    mutually exclusive: setting one resets the other, with a warning (as azureml)."""

    def __init__(self, _skip_defaults: bool = False):
        self._enabled = False
        self.shared_volumes = True
        self.arguments = []
        self.shm_size = None if _skip_defaults else _DEFAULT_SHM_SIZE
        self._base_image = None if _skip_defaults else DEFAULT_CPU_IMAGE
        self._base_dockerfile = None
        self.base_image_registry = ContainerRegistry()
        self._initialized = True

    @property
    def enabled(self) -> bool:
        """DEPRECATED (as in azureml; setting it warns): use
        ``DockerConfiguration(use_docker=...)``. Still honoured: a ScriptRunConfig given this
        environment and no docker_runtime_config runs in Docker when it is True."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        module_logger.warning("'enabled' is deprecated. Please use the "
                              "azureml.core.runconfig.DockerConfiguration object with the "
                              "'use_docker' param instead.")
        self._enabled = bool(value)

    @property
    def base_image(self) -> str | None:
        return self._base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        self._base_image = value or None
        if value and self._base_dockerfile:
            self._base_dockerfile = None
            module_logger.warning("Property base_dockerfile is mutually exclusive with base_image. "
                                  "Reset base_dockerfile to None")

    @property
    def base_dockerfile(self) -> str | None:
        return self._base_dockerfile

    @base_dockerfile.setter
    def base_dockerfile(self, value) -> None:
        if value and hasattr(value, "read"):
            value = value.read()
        elif value and isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
            with open(value, encoding="utf-8") as handle:
                value = handle.read()
        self._base_dockerfile = value or None
        if value and self._base_image:
            self._base_image = None
            module_logger.warning("Property base_image is mutually exclusive with base_dockerfile. "
                                  "Reset base_image to None")


class SparkSection(_ConfigElement):
    """Kept for script compatibility; amlocal runs no Spark."""

    def __init__(self):
        self.repositories = []
        self.packages = []
        self.precache_packages = True
        self._initialized = True
