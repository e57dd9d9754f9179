"""The less used names of ``azureml.core.environment``: the deprecated section aliases,
DockerImageDetails, SparkPackage, DockerImagePlatform, and the names amlocal cannot serve
(R sections, Docker build contexts), which raise CloudOnlyError when used. They need no
Environment (:mod:`amlocal.core.environment` re-exports them).

Only the standard library is imported (the module is mounted into step containers).
"""
from __future__ import annotations

import logging

from .._cloud_only import cloud_only_class
from ..data._config_section import _ConfigElement
from ._environment_sections import DockerSection, PythonSection, SparkSection

module_logger = logging.getLogger("amlocal.core.environment")

_MODULE = "azureml.core.environment"


class PythonEnvironment(PythonSection):
    """Deprecated in azureml: a :class:`PythonSection` (making one logs Azure's warning)."""

    def __init__(self):
        super().__init__()
        module_logger.warning("'PythonEnvironment' will be deprecated soon. Please use "
                              "PythonSection from 'azureml.core.environment'.")


class DockerEnvironment(DockerSection):
    """Deprecated in azureml: a :class:`DockerSection` (making one logs Azure's warning)."""

    def __init__(self):
        super().__init__()
        module_logger.warning("'DockerEnvironment' will be deprecated soon. Please use "
                              "DockerConfiguration from 'azureml.core.runconfig'.")


class SparkEnvironment(SparkSection):
    """Deprecated in azureml: a :class:`SparkSection` (making one logs Azure's warning)."""

    def __init__(self):
        super().__init__()
        module_logger.warning("'SparkEnvironment' will be deprecated soon. Please use "
                              "SparkSection from 'azureml.core.environment'.")


class SparkPackage(_ConfigElement):
    """``SparkPackage(group=None, artifact=None, version=None)``: a Maven package for
    ``env.spark.packages``. Only Spark targets install them (those are cloud-only)."""

    def __init__(self, group: str | None = None, artifact: str | None = None,
                 version: str | None = None):
        self.group = group
        self.artifact = artifact
        self.version = version
        self._initialized = True


class DockerImagePlatform(_ConfigElement):
    """``DockerImagePlatform()``: ``os='Linux'``, ``architecture='amd64'``, the platform Azure's
    ``Environment.build_local(platform=...)`` builds for. amlocal builds every image for this
    machine's Docker engine; no amlocal API takes a platform."""

    def __init__(self):
        self.os = "Linux"
        self.architecture = "amd64"
        self._initialized = True


class DockerImageDetails(dict):
    """The image details of an environment, as a dict (Azure's service answer) with accessors.
    Missing sections read as None."""

    @property
    def image_exist(self) -> bool:
        return bool(self.get("imageExistsInRegistry"))

    @property
    def repository(self) -> str | None:
        return (self.get("dockerImage") or {}).get("name")

    @property
    def registry(self) -> str | None:
        return ((self.get("dockerImage") or {}).get("registry") or {}).get("address")

    @property
    def image(self) -> str | None:
        return self.repository if self.registry is None else f"{self.registry}/{self.repository}"

    @property
    def interpreter_path(self) -> str | None:
        return (self.get("pythonEnvironment") or {}).get("interpreterPath")

    @property
    def environment_path(self) -> str | None:
        return (self.get("pythonEnvironment") or {}).get("condaEnvironmentPath")

    @property
    def dockerfile(self) -> str | None:
        return (self.get("ingredients") or {}).get("dockerfile")


_NO_R = ("amlocal builds Python environments only: R sections and R packages are not "
         "installed by amlocal")
_R_INSTEAD = ("build an image with R yourself and use Environment.from_docker_image(name, "
              "'my-r-image'), calling Rscript from a PythonScriptStep")

RSection = cloud_only_class(_MODULE, "RSection", _NO_R, _R_INSTEAD)
RCranPackage = cloud_only_class(_MODULE, "RCranPackage", _NO_R, _R_INSTEAD)
RGitHubPackage = cloud_only_class(_MODULE, "RGitHubPackage", _NO_R, _R_INSTEAD)
DockerBuildContext = cloud_only_class(
    _MODULE, "DockerBuildContext",
    "amlocal cannot build an environment from a Docker build context yet",
    "build and tag the image yourself (`docker build -t my-image <folder>`) and use "
    "Environment.from_docker_image(name, 'my-image')")
