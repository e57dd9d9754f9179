"""Environment: the Python packages, base image and variables a step runs with, as azureml's.

Mirrors ``azureml.core.environment`` (Environment, PythonSection, DockerSection) with these
deliberate differences:

* Registered versions live in the local store and are assigned by it: ``register`` makes a new
  version only when the definition changed, whatever ``version`` the object carries.
* ``Environment.get(..., label=...)`` raises: the local store keeps no labels.
* A registry password given in ``docker.base_image_registry`` is never written to the store.
* ``docker.base_image`` keeps azureml's default image name; the compute layer maps any
  ``mcr.microsoft.com/azureml/`` image onto amlocal's own base image.
* ``docker.base_dockerfile`` and build contexts cannot be built yet: ``_to_spec`` raises for them.

Only the standard library is imported at module level (the module is mounted into step
containers); ``amlocal.compute`` is imported inside :meth:`Environment._to_spec`.
"""
from __future__ import annotations

import json
import logging
import os

from .._cloud_only import cloud_only_function
from ..data._config_section import _ConfigElement
from ..errors import NotFoundError, UserErrorException
from ._environment_build import ImageBuildDetails  # noqa: F401 - azureml's import path
# the rarer names of azureml.core.environment (deprecated aliases, R, build contexts)
from ._environment_extras import (DockerBuildContext, DockerEnvironment,  # noqa: F401
                                  DockerImageDetails, DockerImagePlatform, PythonEnvironment,
                                  RCranPackage, RGitHubPackage, RSection, SparkEnvironment,
                                  SparkPackage)
# the sections of an Environment (and azureml's default images) live below it, re-exported here
from ._environment_sections import (_DEFAULT_SHM_SIZE, DEFAULT_CPU_IMAGE,  # noqa: F401
                                    DEFAULT_GPU_IMAGE, ContainerRegistry, DockerSection,
                                    PythonSection, SparkSection, _get)
from .conda_dependencies import PYTHON_DEFAULT_VERSION, CondaDependencies

module_logger = logging.getLogger(__name__)

_CONDA_DEPENDENCIES_FILE_NAME = "conda_dependencies.yml"
_BASE_DOCKERFILE_FILE_NAME = "BaseDockerfile"
_DEFINITION_FILE_NAME = "azureml_environment.json"
_RESERVED_PREFIXES = ("Microsoft", "AzureML")
_ENV = "azureml.core.environment.Environment"


class Environment(_ConfigElement):
    """``Environment(name)``: a reproducible Python environment for a step.

    Defaults as azureml: ``version=None``; ``python.user_managed_dependencies=False``,
    ``python.interpreter_path='python'``, ``python.conda_dependencies=CondaDependencies()``;
    ``docker.base_image=DEFAULT_CPU_IMAGE``, ``docker.shm_size='2g'``;
    ``environment_variables={'EXAMPLE_ENV_VAR': 'EXAMPLE_VALUE'}``.

    Raises TypeError when ``name`` is not a string.
    """

    _HINTS = {"conda_dependencies": "use env.python.conda_dependencies",
              "base_image": "use env.docker.base_image",
              "user_managed_dependencies": "use env.python.user_managed_dependencies"}

    def __init__(self, name: str, _skip_defaults: bool = False):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Environment name expected str, {type(name)} found")
        self.name = name
        self.version = None
        self.python = PythonSection(_skip_defaults=_skip_defaults)
        self.docker = DockerSection(_skip_defaults=_skip_defaults)
        self.spark = SparkSection()
        self.r = None
        self.inferencing_stack_version = None
        self.asset_id = None
        self.environment_variables = {} if _skip_defaults else {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
        self._initialized = True

    # -- constructors -----------------------------------------------------------------------
    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike) -> "Environment":
        """An environment from a conda YAML file; a file without python gets the default one.
        Raises FileNotFoundError, or UserErrorException for a file that is not a conda spec."""
        conda_dependencies = CondaDependencies(conda_dependencies_file_path=file_path)
        if not conda_dependencies._python_version:
            module_logger.warning('No Python version provided, defaulting to "%s"',
                                  PYTHON_DEFAULT_VERSION)
            conda_dependencies.set_python_version(PYTHON_DEFAULT_VERSION)
        env = Environment(name=name)
        env.python.conda_dependencies = conda_dependencies
        return env

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike,
                              pip_version: str | None = None) -> "Environment":
        """An environment whose pip section is the requirements file's lines (blank and comment
        lines dropped), plus the conda package ``pip`` (``pip=<pip_version>`` when given)."""
        env = Environment(name=name)
        with open(file_path, encoding="utf-8") as handle:
            env.python.conda_dependencies.set_pip_requirements(handle.read().splitlines())
        env.python.conda_dependencies.add_conda_package(f"pip={pip_version}" if pip_version else "pip")
        return env

    @staticmethod
    def _from_dependencies(name, conda_specification=None, pip_requirements=None) -> "Environment":
        if conda_specification and pip_requirements:
            raise UserErrorException("Only one of conda_specification or pip_requirements can be "
                                     "specified as python dependencies")
        if conda_specification:
            return Environment.from_conda_specification(name, conda_specification)
        if pip_requirements:
            return Environment.from_pip_requirements(name, pip_requirements)
        env = Environment(name)
        env.python.user_managed_dependencies = True
        return env

    @staticmethod
    def from_docker_image(name: str, image: str, container_registry=None,
                          conda_specification: str | None = None,
                          pip_requirements: str | None = None) -> "Environment":
        """An environment on ``image``. Without a conda or pip file the image's own Python is
        used as is (``user_managed_dependencies=True``)."""
        env = Environment._from_dependencies(name, conda_specification, pip_requirements)
        env.docker.base_dockerfile = None
        env.docker.base_image = image
        if container_registry:
            env.docker.base_image_registry = container_registry
        return env

    @staticmethod
    def from_dockerfile(name: str, dockerfile: str, conda_specification: str | None = None,
                        pip_requirements: str | None = None) -> "Environment":
        """An environment from a Dockerfile (its text or path). Accepted, but amlocal cannot run
        it yet: submitting a step with it raises UserErrorException."""
        env = Environment._from_dependencies(name, conda_specification, pip_requirements)
        env.docker.base_image = None
        env.docker.base_dockerfile = dockerfile
        return env

    # -- workspace registry -----------------------------------------------------------------
    def register(self, workspace) -> "Environment":
        """Store this definition in the workspace and return a copy with ``version`` set.

        The version is 1 for a new name, the latest version when the definition is unchanged,
        and the next version otherwise. Raises UserErrorException for a missing name or a name
        starting with a reserved prefix (Microsoft, AzureML).
        """
        if not self.name:
            raise UserErrorException("Name is required to register an Environment: "
                                     "Environment('my-env').register(ws)")
        if self.name.startswith(_RESERVED_PREFIXES):
            raise UserErrorException(
                f"environment name '{self.name}' starts with a prefix reserved for curated "
                f"environments ({', '.join(_RESERVED_PREFIXES)}); register a copy under another "
                "name: env.clone('my-env').register(ws)")
        info = workspace._store.register_environment(workspace._id, self.name, self._definition())
        return Environment._from_info(info)

    @staticmethod
    def get(workspace, name: str, version: str | int | None = None,
            label: str | None = None) -> "Environment":
        """The registered environment ``name`` at ``version`` (default: the latest).

        Raises UserErrorException when both version and label are given, or for a label (not
        kept locally), and NotFoundError, listing what exists, for an unknown name or version.
        """
        if label and version:
            raise UserErrorException("Only one of version or label can be specified")
        if label:
            raise UserErrorException(
                f"environment labels are not kept by amlocal; ask for a version instead: "
                f"Environment.get(ws, '{name}', version='1')")
        number = None
        if version is not None:
            try:
                number = int(version)
            except (TypeError, ValueError):
                raise UserErrorException(
                    f"environment version {version!r} is not valid: versions are 1, 2, 3 ...") from None
        store = workspace._store
        info = store.get_environment(workspace._id, name, number)
        if info is not None:
            return Environment._from_info(info)
        from ._curated import curated_packages
        packages = curated_packages(name)   # Azure's AzureML-* names, approximated from PyPI
        if packages is not None:
            curated = Environment(name)
            curated.python.conda_dependencies = CondaDependencies.create(pip_packages=packages)
            return curated
        known = store.list_environments(workspace._id)
        versions = sorted(i.version for i in known if i.name == name)
        if versions:
            raise NotFoundError(
                f"environment '{name}' has no version {version}; its versions are "
                f"{', '.join(map(str, versions))}")
        names = sorted({i.name for i in known})
        raise NotFoundError(
            f"no environment named '{name}' in workspace '{workspace.name}'. Registered "
            f"environments: {', '.join(names) or '(none)'}. Register one with "
            f"Environment('{name}').register(ws)")

    @staticmethod
    def list(workspace) -> dict:
        """``{name: Environment}``, the latest version of each registered environment."""
        result: dict = {}
        for info in workspace._store.list_environments(workspace._id):
            latest = result.get(info.name)
            if latest is None or int(latest.version) < info.version:
                result[info.name] = Environment._from_info(info)
        return dict(sorted(result.items()))

    @staticmethod
    def _from_info(info) -> "Environment":
        env = Environment._deserialize_and_add_to_object(info.definition)
        env.name = info.name
        env.version = str(info.version)
        return env

    def clone(self, new_name: str) -> "Environment":
        """A copy named ``new_name``, unregistered (``version=None``)."""
        if not new_name:
            raise UserErrorException("Name is required to instantiate an Environment object")
        env = Environment._deserialize_and_add_to_object(self._serialize_to_dict())
        env.name = new_name
        env.version = None
        env.asset_id = None
        return env

    # -- files ------------------------------------------------------------------------------
    def save_to_directory(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write ``azureml_environment.json``, ``conda_dependencies.yml`` and ``BaseDockerfile``
        to ``path``. Raises FileExistsError when it exists and ``overwrite`` is False."""
        os.makedirs(path, exist_ok=overwrite)
        data = self._serialize_to_dict()
        if self.python.conda_dependencies is not None:
            self.python.conda_dependencies.save_to_file(path, _CONDA_DEPENDENCIES_FILE_NAME)
            data["python"]["condaDependencies"] = None
        if self.docker.base_dockerfile:
            with open(os.path.join(path, _BASE_DOCKERFILE_FILE_NAME), "w", encoding="utf-8") as f:
                f.write(self.docker.base_dockerfile)
            data["docker"]["baseDockerfile"] = None
        with open(os.path.join(path, _DEFINITION_FILE_NAME), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=4)

    @staticmethod
    def load_from_directory(path: str | os.PathLike) -> "Environment":
        """The inverse of :meth:`save_to_directory`. Raises FileNotFoundError."""
        definition = os.path.join(path, _DEFINITION_FILE_NAME)
        if not os.path.isfile(definition):
            raise FileNotFoundError(definition)
        with open(definition, encoding="utf-8") as f:
            env = Environment._deserialize_and_add_to_object(json.load(f))
        conda_file = os.path.join(path, _CONDA_DEPENDENCIES_FILE_NAME)
        if os.path.isfile(conda_file):
            env.python.conda_dependencies = CondaDependencies(conda_file)
        dockerfile = os.path.join(path, _BASE_DOCKERFILE_FILE_NAME)
        if os.path.isfile(dockerfile):
            with open(dockerfile, encoding="utf-8") as f:
                env.docker.base_dockerfile = f.read()
        return env

    # -- serialisation ----------------------------------------------------------------------
    def _serialize_to_dict(self) -> dict:
        """The definition as camelCase JSON-ready data, as azureml sends it to the service."""
        registry = self.docker.base_image_registry
        cd = self.python.conda_dependencies
        return {
            "name": self.name,
            "version": self.version,
            "environmentVariables": {str(k): str(v) for k, v in (self.environment_variables or {}).items()},
            "python": {
                "userManagedDependencies": bool(self.python.user_managed_dependencies),
                "interpreterPath": self.python.interpreter_path,
                "condaDependenciesFile": None,
                "baseCondaEnvironment": self.python.base_conda_environment,
                "condaDependencies": cd.as_dict() if cd is not None else None,
            },
            "docker": {
                "enabled": bool(self.docker.enabled),
                "baseImage": self.docker.base_image,
                "baseDockerfile": self.docker.base_dockerfile,
                "sharedVolumes": bool(self.docker.shared_volumes),
                "shmSize": self.docker.shm_size,
                "arguments": list(self.docker.arguments or []),
                "baseImageRegistry": {"address": getattr(registry, "address", None),
                                      "username": getattr(registry, "username", None)},
            },
            "spark": {"repositories": list(self.spark.repositories),
                      "packages": list(self.spark.packages),
                      "precachePackages": bool(self.spark.precache_packages)},
            "r": None,
            "inferencingStackVersion": self.inferencing_stack_version,
        }

    def _definition(self) -> dict:
        """What the store versions: the serialised definition without its version."""
        data = self._serialize_to_dict()
        data.pop("version", None)
        return data

    @staticmethod
    def _deserialize_and_add_to_object(serialized_dict: dict) -> "Environment":
        """An Environment from :meth:`_serialize_to_dict` output (camelCase or snake_case keys;
        missing sections keep their defaults)."""
        data = serialized_dict or {}
        env = Environment(data.get("name"))
        version = data.get("version")
        env.version = None if version is None else str(version)
        variables = _get(data, "environmentVariables")
        if variables is not None:
            env.environment_variables = dict(variables)
        python = data.get("python") or {}
        env.python.user_managed_dependencies = bool(_get(python, "userManagedDependencies", False))
        env.python.interpreter_path = _get(python, "interpreterPath", "python") or "python"
        env.python.base_conda_environment = _get(python, "baseCondaEnvironment")
        if "condaDependencies" in python or "conda_dependencies" in python:
            inline = _get(python, "condaDependencies")
            env.python.conda_dependencies = (CondaDependencies(_underlying_structure=inline)
                                             if inline else None)
        docker = data.get("docker") or {}
        if docker:
            env.docker._enabled = bool(_get(docker, "enabled", False))
            env.docker.shared_volumes = bool(_get(docker, "sharedVolumes", True))
            env.docker.shm_size = _get(docker, "shmSize", _DEFAULT_SHM_SIZE)
            env.docker.arguments = list(_get(docker, "arguments") or [])
            env.docker._base_image = _get(docker, "baseImage")
            env.docker._base_dockerfile = _get(docker, "baseDockerfile")
            registry = _get(docker, "baseImageRegistry") or {}
            env.docker.base_image_registry = ContainerRegistry(
                registry.get("address"), registry.get("username"))
        spark = data.get("spark") or {}
        env.spark.repositories = list(spark.get("repositories") or [])
        env.spark.packages = list(spark.get("packages") or [])
        env.spark.precache_packages = bool(_get(spark, "precachePackages", True))
        env.inferencing_stack_version = _get(data, "inferencingStackVersion")
        return env

    def _to_spec(self):
        """The normalised ``amlocal.compute.EnvironmentSpec`` the compute layer builds.

        A user-managed environment contributes no packages (the image's Python is used as is).
        The template's default Python version is treated as "no preference", so the base
        image's Python is used without a warning; an explicitly chosen other version is kept
        (and the compute layer warns when the base image cannot provide it). Raises UserErrorException for a Dockerfile-based environment, which amlocal cannot build.
        """
        from ..compute.base import EnvironmentSpec
        if self.docker.base_dockerfile:
            raise UserErrorException(
                f"environment '{self.name}' is built from docker.base_dockerfile, which amlocal "
                "cannot build yet; build and tag the image yourself (`docker build -t my-image .`) "
                "and use Environment.from_docker_image(name, 'my-image', ...)")
        registry = self.docker.base_image_registry
        if getattr(registry, "username", None) or getattr(registry, "password", None):
            module_logger.warning(
                "environment '%s': docker.base_image_registry credentials are not used; the "
                "Docker engine pulls %s with its own login (run `docker login %s` once)",
                self.name, self.docker.base_image, getattr(registry, "address", None) or "REGISTRY")
        parts: dict = {}
        if self.python.user_managed_dependencies:  # run interpreter_path as it is
            parts = {"user_managed": True,
                     "interpreter_path": self.python.interpreter_path or "python"}
        else:
            parts = (self.python.conda_dependencies or CondaDependencies())._to_spec_parts()
            if parts["python_version"] == PYTHON_DEFAULT_VERSION:
                parts["python_version"] = None
            parts["pip_packages"] = _with_runtime_packages(parts["pip_packages"])
        variables = {str(k): str(v) for k, v in (self.environment_variables or {}).items()}
        return EnvironmentSpec(name=self.name or "default", base_image=self.docker.base_image,
                               environment_variables=variables, **parts)

    # -- what only Azure's environment registry and image builder do ------------------------
    from_docker_build_context = staticmethod(cloud_only_function(
        _ENV, "from_docker_build_context",
        "amlocal cannot build an environment from a Docker build context yet",
        "build and tag the image yourself (`docker build -t my-image <folder>`) and use "
        "Environment.from_docker_image(name, 'my-image')"))
    label = staticmethod(cloud_only_function(
        _ENV, "label", "environment labels are kept by Azure's environment registry; amlocal's "
        "store keeps numbered versions only", "Environment.get(ws, name, version=N)"))
    add_private_pip_wheel = staticmethod(cloud_only_function(
        _ENV, "add_private_pip_wheel", "it uploads the wheel to the workspace's Azure storage; "
        "installing private wheels into amlocal's images is not built yet",
        "publish the wheel to a package index you control and add it with "
        "conda_dependencies.set_pip_option('--extra-index-url URL') and add_pip_package(name)"))

    # -- building on this machine (see _environment_build) ---------------------------------
    def build(self, workspace, image_build_compute=None):
        """Register the environment and build its image with this machine's Docker engine, in
        the background; returns an :class:`ImageBuildDetails` (``wait_for_completion``)."""
        from ._environment_build import build
        return build(self, workspace, image_build_compute)

    def build_local(self, workspace, platform=None, **kwargs) -> None:
        """Build the registered environment here: its image with ``useDocker=True``, else the
        virtualenv a host run uses. Prints the build output."""
        from ._environment_build import build_local
        return build_local(self, workspace, platform, **kwargs)

    def get_image_details(self, workspace):
        """The environment's image as a DockerImageDetails dict (tag, built or not, Dockerfile,
        interpreter path)."""
        from ._environment_build import get_image_details
        return get_image_details(self, workspace)

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> "Environment":
        """The environment of an existing conda environment (``conda env export``); needs a
        conda executable."""
        from ._environment_build import exported_conda_environment
        with exported_conda_environment(conda_environment_name) as specification:
            return Environment.from_conda_specification(name, specification)

    def __str__(self) -> str:
        return f"Environment(Name: {self.name},\nVersion: {self.version})"

    def __repr__(self) -> str:
        return json.dumps(self._serialize_to_dict(), indent=4, sort_keys=True)


# What the amlocal runtime needs in a step to read datasets there (run.input_datasets): injected
# into every environment, as Azure injects azureml-defaults.
RUNTIME_PACKAGES = ("fsspec",)


def _with_runtime_packages(pip_packages: tuple) -> tuple:
    import re
    names = {re.split(r"[\s\[<>=!~;@]", p.strip(), 1)[0].lower().replace("_", "-") for p in pip_packages}
    return tuple(pip_packages) + tuple(p for p in RUNTIME_PACKAGES if p not in names)


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
