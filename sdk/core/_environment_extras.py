"""The less used names of ``azureml.core.environment``: the deprecated section aliases,
EnvironmentReference, DockerImageDetails, SparkPackage, and the names amlocal cannot serve
(R sections, Docker build contexts, cloud image builds), which raise CloudOnlyError when used.

Only the standard library is imported (the module is mounted into step containers).
"""
from __future__ import annotations

import json
import logging

from .._cloud_only import cloud_only_class, cloud_only_function
from .environment import DockerSection, Environment, PythonSection, SparkSection, _ConfigElement

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


class EnvironmentReference(_ConfigElement):
    """``EnvironmentReference(name, version=None)``: a registered environment by name and
    version; :meth:`get_environment` fetches it from a workspace."""

    def __init__(self, name: str, version: str | None = None):
        self.name = name
        self.version = version
        self._initialized = True

    def get_environment(self, workspace) -> Environment:
        """The referenced Environment. Raises NotFoundError (listing what exists) for an
        unknown name or version."""
        return Environment.get(workspace, self.name, self.version)

    def __repr__(self) -> str:
        return json.dumps({"name": self.name, "version": self.version}, indent=4)


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
from ._environment_build import ImageBuildDetails  # noqa: E402,F401 - azureml's import path

_NOT_BUILT = "amlocal cannot build an environment from a Docker build context yet"
_BUILD_YOURSELF = ("build and tag the image yourself (`docker build -t my-image <folder>`) and "
                   "use Environment.from_docker_image(name, 'my-image')")
_ENV = "azureml.core.environment.Environment"
Environment.from_docker_build_context = staticmethod(cloud_only_function(
    _ENV, "from_docker_build_context", _NOT_BUILT, _BUILD_YOURSELF))
Environment.label = staticmethod(cloud_only_function(
    _ENV, "label", "environment labels are kept by Azure's environment registry; amlocal's "
    "store keeps numbered versions only", "Environment.get(ws, name, version=N)"))
Environment.add_private_pip_wheel = staticmethod(cloud_only_function(
    _ENV, "add_private_pip_wheel", "it uploads the wheel to the workspace's Azure storage; "
    "installing private wheels into amlocal's images is not built yet",
    "publish the wheel to a package index you control and add it with "
    "conda_dependencies.set_pip_option('--extra-index-url URL') and add_pip_package(name)"))
