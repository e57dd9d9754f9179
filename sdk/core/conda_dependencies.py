"""CondaDependencies: a conda environment specification, edited in memory, as azureml's.

Mirrors ``azureml.core.conda_dependencies`` (SDK 1.48 behaviour) with these deliberate differences:

* The default Python is ``3.10.18`` (azureml-core 1.61's default; 1.48 used ``3.8.13``): it is the
  oldest Python the amlocal runtime, mounted into every step, supports.
* ``create(pin_sdk_version=True)`` pins nothing and adds no ``--find-links`` options: ``azureml-*``
  entries are satisfied by the amlocal runtime injected into every step, so there is no SDK
  version to pin to.
* YAML is read and written with PyYAML, not ruamel round-trip: the leading comment block of a
  loaded file is kept as the header of ``serialize_to_string()``; comments inside the body are not.
* ``set_pip_requirements`` drops blank lines and ``#`` comment lines.

PyYAML is imported only by the methods that read or write YAML text, so the class works in a
step container whose Python lacks it.
"""
from __future__ import annotations

import copy
import json
import os
import re
import warnings
from typing import Any, Iterator

from ..errors import UserErrorException

PYTHON_DEFAULT_VERSION = "3.10.18"
DEFAULT_SDK_ORIGIN = "https://pypi.python.org/simple"
CONDA_FILE_NAME = "auto_conda_dependencies.yml"
CHANNELS = "channels"
PACKAGES = "dependencies"
PIP = "pip"
PYTHON_PREFIX = "python"
VERSION_REGEX = re.compile(r"(\d+)\.(\d+)(\.(\d+))?([ab](\d+))?$")

# azureml's module constants, kept for scripts that import them. amlocal reads none of them:
# its template is _default_structure(), and no framework packages are added for you.
BASE_PROJECT_MODULE = "azureml._project"
BASE_PROJECT_FILE_RELATIVE_PATH = "base_project_files/conda_dependencies.yml"
CNTK_DEFAULT_VERSION = "2.7"
LINUX_PLATFORM = "linux"
WINDOWS_PLATFORM = "win32"
TENSORFLOW_DEFAULT_VERSION = "2.2.0"
PYTORCH_DEFAULT_VERSION = "1.6.0"
TORCHVISION_DEFAULT_VERSION = "0.7.0"
HOROVOD_DEFAULT_VERSION = "0.19.5"
DEFAULT_CHAINER_VERSION = "7.7.0"
CUPY_DEFAULT_VERSION = "cupy-cuda102"
CPU = "cpu"
GPU = "gpu"
CNTK_PACKAGE_PREFIX = "cntk"
TENSORFLOW_PACKAGE_PREFIX = "tensorflow"
PYTORCH_PACKAGE_PREFIX = "torch"
TORCHVISION_PACKAGE_PREFIX = "torchvision"
CHAINER_PACKAGE_PREFIX = "chainer"
INVALID_PATHON_MESSAGE = "Invalid python version {0}, only accept '3.8'"

DEFAULT_HEADER = (
    "# Conda environment specification. The dependencies defined in this file will\n"
    "# be automatically provisioned for runs with userManagedDependencies=False.\n"
    "\n"
    "# Details about the Conda environment file format:\n"
    "# https://conda.io/docs/user-guide/tasks/manage-environments.html#create-env-file-manually\n"
    "\n"
)

SKLEARN_WARNING = ("'sklearn' is a deprecated name on PyPI whose install fails; "
                   "installing 'scikit-learn' instead")


def _default_structure() -> dict:
    """The template azureml ships as ``base_project_files/conda_dependencies.yml``."""
    return {
        "name": "project_environment",
        PACKAGES: [f"{PYTHON_PREFIX}={PYTHON_DEFAULT_VERSION}", {PIP: ["azureml-defaults"]}],
        CHANNELS: ["anaconda", "conda-forge"],
    }


def _normalize(name: str) -> str:
    """PEP 503 normalised project name: ``Azureml.Core`` -> ``azureml-core``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _strip_comment(line: str) -> str:
    """A requirements line without its trailing ``#`` comment and surrounding blanks."""
    line = line.strip()
    if line.startswith("#"):
        return ""
    return re.split(r"\s+#", line, maxsplit=1)[0].strip()


def _conda_name(spec: str) -> str:
    """``conda-forge::numpy>=1.2`` -> ``numpy``."""
    return re.split(r"[\s=<>!~\[]", spec.split("::")[-1].strip(), maxsplit=1)[0]


class CondaDependencies:
    """Manages a step's dependencies: ``CondaDependencies(conda_dependencies_file_path=None)``.

    Without a file, the object holds the default template: ``name: project_environment``,
    ``python=3.10.18``, pip ``[azureml-defaults]``, channels ``anaconda`` and ``conda-forge``.

    Raises UserErrorException when the file is not a YAML mapping or has a top-level key other
    than name, channels, dependencies, prefix and variables.
    """

    _VALID_YML_KEYS = ["name", "channels", "dependencies", "prefix", "variables"]

    def __init__(self, conda_dependencies_file_path: str | os.PathLike | None = None,
                 _underlying_structure: dict | None = None):
        self._header = ""
        if conda_dependencies_file_path:
            with open(conda_dependencies_file_path, "r", encoding="utf-8") as handle:
                text = handle.read()
            self._conda_dependencies = self._load_yaml(text, str(conda_dependencies_file_path))
            self._header = _leading_comments(text)
        elif _underlying_structure:
            self._conda_dependencies = copy.deepcopy(_underlying_structure)
        else:
            self._conda_dependencies = _default_structure()
            self._header = DEFAULT_HEADER
        self._validate_yaml(self._conda_dependencies)
        self._python_version = self.get_python_version()

    # -- construction -----------------------------------------------------------------------
    @staticmethod
    def _load_yaml(text: str, source: str) -> Any:
        import yaml
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UserErrorException(
                f"Environment error: {source} is not valid YAML ({exc}); fix the file or write "
                "it with CondaDependencies().save(path)") from exc

    @classmethod
    def _validate_yaml(cls, structure: Any) -> None:
        if not isinstance(structure, dict):
            raise UserErrorException(
                "Environment error: not a valid YAML structure; a conda specification is a "
                f"mapping with the keys {', '.join(cls._VALID_YML_KEYS)}")
        for key in structure:
            if str(key) not in cls._VALID_YML_KEYS:
                raise UserErrorException(
                    f"Environment error: unknown {key} key in environment specification; valid "
                    f"keys are {', '.join(cls._VALID_YML_KEYS)}")
        deps = structure.get(PACKAGES)
        if deps is None and PACKAGES in structure:
            structure[PACKAGES] = []
        elif deps is not None and not isinstance(deps, list):
            raise UserErrorException(
                f"Environment error: '{PACKAGES}' must be a list of packages, got {deps!r}")
        for item in structure.get(PACKAGES, []):
            if isinstance(item, dict) and PIP in item and item[PIP] is None:
                item[PIP] = []

    @staticmethod
    def create(pip_indexurl: str | None = None, pip_packages: list[str] | None = None,
               conda_packages: list[str] | None = None,
               python_version: str = PYTHON_DEFAULT_VERSION,
               pin_sdk_version: bool = True) -> "CondaDependencies":
        """A new object from the default template with the given packages.

        ``pip_packages=None`` keeps ``azureml-defaults``; an explicit list replaces it.
        ``pin_sdk_version`` is accepted and has no effect (see the module docstring).
        """
        cd = CondaDependencies()
        if pip_indexurl:
            cd.set_pip_index_url(f"--index-url {pip_indexurl}")
            cd.set_pip_option(f"--extra-index-url {DEFAULT_SDK_ORIGIN}")
        cd.set_python_version(python_version)
        if pip_packages is None:
            pip_packages = ["azureml-defaults"]
        else:
            for package in list(cd.pip_packages):
                cd.remove_pip_package(package)
        for package in pip_packages:
            cd.add_pip_package(package)
        for package in conda_packages or []:
            cd.remove_conda_package(package)
            cd.add_conda_package(package)
        return cd

    @staticmethod
    def merge_requirements(requirements: list[str]) -> list[str]:
        """Merge requirements of the same package: ``['a>1', 'a<3']`` -> ``['a>1,<3']``."""
        packages: dict[str, list[str]] = {}
        for req in requirements:
            name = CondaDependencies._get_package_name(req)
            packages.setdefault(name, []).append(req[len(name):].strip())
        return [name + ",".join(x for x in reqs if x) for name, reqs in packages.items()]

    @staticmethod
    def sdk_origin_url() -> str:
        """The index azureml packages come from: always PyPI here."""
        return DEFAULT_SDK_ORIGIN

    # -- read access ------------------------------------------------------------------------
    @property
    def conda_channels(self) -> Iterator[str]:
        """The channels (a copy: edit with add_channel/remove_channel)."""
        return iter(list(self._conda_dependencies.get(CHANNELS) or []))

    @property
    def conda_packages(self) -> Iterator[str]:
        """The conda packages, python included (a copy)."""
        return iter([d for d in self._conda_dependencies.get(PACKAGES, []) if not isinstance(d, dict)])

    @property
    def pip_packages(self) -> Iterator[str]:
        """The pip packages, options excluded (a copy)."""
        return iter([x for x in self._pip_section() if not self._is_option(x)])

    @property
    def pip_options(self) -> Iterator[str]:
        """The pip options such as ``--index-url URL`` (a copy)."""
        return iter([x for x in self._pip_section() if self._is_option(x)])

    def get_python_version(self) -> str | None:
        """The version of the ``python`` conda package, e.g. ``'3.10.18'``, or None."""
        for item in self._conda_dependencies.get(PACKAGES, []):
            if isinstance(item, str) and self._get_package_name(item) == PYTHON_PREFIX:
                match = VERSION_REGEX.search(item)
                return match.group() if match else None
        return None

    def as_dict(self) -> dict:
        """The specification as plain JSON-ready data."""
        return json.loads(json.dumps(self._conda_dependencies, default=str))

    def _get_serialized_dict(self) -> dict:
        return self.as_dict()

    # -- edits ------------------------------------------------------------------------------
    def set_python_version(self, version: str) -> None:
        """Set (or replace) the ``python=<version>`` conda package."""
        deps = self._conda_dependencies.setdefault(PACKAGES, [])
        index = self._python_index()
        if index >= 0:
            deps[index] = f"{PYTHON_PREFIX}={version}"
        else:
            deps.insert(0, f"{PYTHON_PREFIX}={version}")
        self._python_version = version

    def add_channel(self, channel: str) -> None:
        channels = self._conda_dependencies.setdefault(CHANNELS, [])
        if channels is None:
            channels = self._conda_dependencies[CHANNELS] = []
        if channel not in channels:
            channels.append(channel)

    def remove_channel(self, channel: str) -> None:
        channels = self._conda_dependencies.get(CHANNELS) or []
        if channel in channels:
            channels.remove(channel)

    def add_conda_package(self, conda_package: str) -> None:
        """Add a conda package; ``python=X`` sets the Python version instead."""
        deps = self._conda_dependencies.setdefault(PACKAGES, [])
        if conda_package in deps:
            return
        if self._get_package_name(conda_package) == PYTHON_PREFIX:
            version = VERSION_REGEX.search(conda_package)
            if version is None:
                raise UserErrorException(
                    f"invalid python package {conda_package!r}: give a version, e.g. 'python=3.10'")
            self.set_python_version(version.group())
        else:
            deps.append(conda_package)

    def remove_conda_package(self, conda_package: str) -> None:
        deps = self._conda_dependencies.get(PACKAGES, [])
        if conda_package not in deps:
            return
        if self._get_package_name(conda_package) == PYTHON_PREFIX:
            raise UserErrorException(
                "python must not be removed from conda dependencies; change it with "
                "set_python_version('3.x')")
        deps.remove(conda_package)

    def add_pip_package(self, pip_package: str) -> None:
        """Add a pip package, replacing any entry for the same package (it moves to the end)."""
        if self._is_option(pip_package):
            raise UserErrorException(
                f"Invalid package name {pip_package}: it is a pip option; add it with "
                "set_pip_option()")
        self.remove_pip_package(pip_package)
        self._ensure_pip_section().append(pip_package)

    def remove_pip_package(self, pip_package: str) -> None:
        """Remove every entry for the package, whatever its version or extras."""
        if self._is_option(pip_package):
            raise UserErrorException(
                f"Invalid package name {pip_package}: it is a pip option; remove it with "
                "remove_pip_option()")
        name = self._get_package_name(pip_package)
        section = self._pip_section()
        section[:] = [x for x in section if self._is_option(x) or self._get_package_name(x) != name]

    # -- framework helpers, as azureml's ----------------------------------------------------
    @staticmethod
    def _check_core_type(core_type: str) -> None:
        if core_type not in (CPU, GPU):
            raise UserErrorException(f"Invalid core type {core_type}. Only accept 'cpu' or 'gpu'")

    def add_cntk_package(self, core_type: str = CPU) -> None:
        """Add CNTK (``cntk==2.7``, or ``cntk-gpu==2.7`` for ``core_type='gpu'``) as a pip
        package, replacing any ``cntk*`` entry."""
        self._check_core_type(core_type)
        self._drop_pip_prefix(CNTK_PACKAGE_PREFIX)
        suffix = "-gpu" if core_type == GPU else ""
        self.add_pip_package(f"{CNTK_PACKAGE_PREFIX}{suffix}=={CNTK_DEFAULT_VERSION}")

    def add_tensorflow_pip_package(self, core_type: str = CPU, version: str | None = None) -> None:
        """Add ``tensorflow==<version>`` (``tensorflow-gpu`` for gpu; default 2.2.0) as a pip
        package, replacing any ``tensorflow*`` pip entry."""
        self._check_core_type(core_type)
        self._drop_pip_prefix(TENSORFLOW_PACKAGE_PREFIX)
        suffix = "-gpu" if core_type == GPU else ""
        self.add_pip_package(f"{TENSORFLOW_PACKAGE_PREFIX}{suffix}=="
                             f"{version or TENSORFLOW_DEFAULT_VERSION}")

    def add_tensorflow_conda_package(self, core_type: str = CPU, version: str | None = None) -> None:
        """Add ``tensorflow=<version>`` (``tensorflow-gpu`` for gpu; default 2.2.0) as a conda
        package, replacing any ``tensorflow*`` conda entry."""
        self._check_core_type(core_type)
        for item in [x for x in self._conda_dependencies.get(PACKAGES, [])
                     if isinstance(x, str) and x.startswith(TENSORFLOW_PACKAGE_PREFIX)]:
            self.remove_conda_package(item)
        suffix = "-gpu" if core_type == GPU else ""
        self.add_conda_package(f"{TENSORFLOW_PACKAGE_PREFIX}{suffix}="
                               f"{version or TENSORFLOW_DEFAULT_VERSION}")

    def _drop_pip_prefix(self, prefix: str) -> None:
        section = self._pip_section()
        section[:] = [x for x in section if self._is_option(x) or not str(x).startswith(prefix)]

    def get_default_number_of_packages(self) -> tuple[int, int]:
        """``(conda packages, pip packages)`` of the default template (azureml's: the python
        entry counts as a conda package; pip options do not count)."""
        conda = pip = 0
        for item in _default_structure()[PACKAGES]:
            if isinstance(item, dict) and PIP in item:
                pip = len([x for x in item[PIP] if not self._is_option(x)])
            elif not isinstance(item, dict):
                conda += 1
        return conda, pip

    def set_pip_requirements(self, pip_requirements: list[str]) -> None:
        """Replace the whole pip section (packages and options)."""
        lines = [str(x).strip() for x in pip_requirements]
        lines = [x for x in lines if x and not x.startswith("#")]
        section = self._ensure_pip_section()
        section[:] = lines

    def set_pip_index_url(self, index_url: str) -> None:
        """Set the pip index, given as the whole option: ``'--index-url URL'``."""
        self.set_pip_option(index_url)

    def set_pip_option(self, pip_option: str) -> None:
        """Add a pip option, replacing an existing option with the same flag."""
        if not self._is_option(pip_option):
            raise UserErrorException(
                f"Invalid pip option {pip_option}: options start with '-', e.g. "
                "'--extra-index-url https://...'; add packages with add_pip_package()")
        section = self._ensure_pip_section()
        flag = pip_option.split()[0]
        for i, item in enumerate(section):
            if self._is_option(item) and item.split()[0] == flag:
                section[i] = pip_option
                return
        section.append(pip_option)

    def remove_pip_option(self, pip_option: str) -> None:
        if not self._is_option(pip_option):
            raise UserErrorException(f"Invalid pip option {pip_option}: options start with '-'")
        flag = pip_option.split()[0]
        section = self._pip_section()
        section[:] = [x for x in section if not (self._is_option(x) and x.split()[0] == flag)]

    # -- output -----------------------------------------------------------------------------
    def serialize_to_string(self) -> str:
        """The specification as YAML text, after the header comment."""
        import yaml
        body = yaml.safe_dump(self.as_dict(), sort_keys=False, default_flow_style=False,
                              allow_unicode=True, width=10 ** 6)
        return self._header + body

    def save(self, path: str | os.PathLike | None = None) -> str:
        """Write the specification to the file ``path``; return the path.

        Raises UserErrorException when ``path`` is a directory, its folder does not exist, or
        the specification has no python package.
        """
        if path is None or os.path.isdir(path):
            raise UserErrorException(
                "Cannot save a conda environment specification file to a directory. Please "
                "specify a fully qualified path along with the file name to save the file, "
                f"e.g. save('{os.path.join(str(path or '.'), 'environment.yml')}')")
        path = os.fspath(path)
        parent = os.path.dirname(path)
        if parent and not os.path.isdir(parent):
            raise UserErrorException(
                f"Cannot save the conda environment specification file to an invalid path: "
                f"the folder {parent} does not exist; create it first")
        self._validate()
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.serialize_to_string())
        return path.replace("\\", "/")

    def save_to_file(self, base_directory: str | os.PathLike,
                     conda_file_path: str | None = None) -> str:
        """DEPRECATED in azureml, use :meth:`save`. Write to ``base_directory/conda_file_path``
        (default ``.azureml/auto_conda_dependencies.yml``); return the relative path."""
        if not conda_file_path:
            conda_file_path = f".azureml/{CONDA_FILE_NAME}"
        relative = conda_file_path.replace("\\", "/")
        full = os.path.join(os.path.abspath(base_directory), relative)
        if os.path.isdir(full):
            raise UserErrorException(
                f"Cannot save a conda environment specification file to the directory {full}; "
                "give conda_file_path a file name")
        os.makedirs(os.path.dirname(full), exist_ok=True)
        self._validate()
        with open(full, "w", encoding="utf-8") as handle:
            handle.write(self.serialize_to_string())
        return relative

    def _to_spec_parts(self) -> dict:
        """The normalised parts of an ``amlocal.compute.EnvironmentSpec``.

        ``azureml-*`` pip entries are dropped (the amlocal runtime in every step satisfies
        them); ``sklearn`` becomes ``scikit-learn`` with a warning; ``python`` and ``pip`` leave
        the conda packages; pip lines starting with ``-`` become pip options.
        """
        conda: list[str] = []
        for item in self.conda_packages:
            item = str(item).strip()
            if _conda_name(item) in (PYTHON_PREFIX, PIP) or item in conda:
                continue
            conda.append(item)
        lines = [_strip_comment(str(x)) for x in self._pip_section()]
        lines = [x for x in lines if x]
        options = [x for x in lines if self._is_option(x)]
        requirements = [x for x in lines if not self._is_option(x)]
        names = {_normalize(self._get_package_name(x)) for x in requirements}
        pip: list[str] = []
        for line in requirements:
            name = _normalize(self._get_package_name(line))
            if name.startswith("azureml-"):
                continue
            if name == "sklearn":
                warnings.warn(SKLEARN_WARNING, UserWarning, stacklevel=2)
                if "scikit-learn" in names:
                    continue
                line, names = "scikit-learn", names | {"scikit-learn"}
            if line not in pip:
                pip.append(line)
        return {
            "python_version": self.get_python_version(),
            "conda_channels": tuple(dict.fromkeys(str(c) for c in self.conda_channels)),
            "conda_packages": tuple(conda),
            "pip_packages": tuple(pip),
            "pip_options": tuple(dict.fromkeys(options)),
        }

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _is_option(item: Any) -> bool:
        return isinstance(item, str) and item.strip().startswith("-")

    @staticmethod
    def _get_package_name(value: str) -> str:
        """``pkg[extra]==1.0`` -> ``pkg``; a wheel file or URL -> its distribution name."""
        value = str(value).strip()
        if value.endswith(".whl"):
            return re.split("-", re.split("/", value)[-1])[0]
        return re.split(r"[\[=<>~!;@\s]", value, maxsplit=1)[0]

    @staticmethod
    def _get_package_name_with_extras(value: str) -> str:
        return re.split(r"[=<>~!;@\s]", str(value).strip(), maxsplit=1)[0]

    def _pip_section(self) -> list:
        """The live list under ``- pip:`` (an empty throwaway list when there is none)."""
        for item in self._conda_dependencies.get(PACKAGES, []):
            if isinstance(item, dict) and PIP in item:
                return item[PIP]
        return []

    def _ensure_pip_section(self) -> list:
        deps = self._conda_dependencies.setdefault(PACKAGES, [])
        for item in deps:
            if isinstance(item, dict) and PIP in item:
                return item[PIP]
        section: list = []
        deps.append({PIP: section})
        return section

    def _python_index(self) -> int:
        for i, item in enumerate(self._conda_dependencies.get(PACKAGES, [])):
            if isinstance(item, str) and self._get_package_name(item) == PYTHON_PREFIX:
                return i
        return -1

    def _validate(self) -> None:
        if self._python_index() < 0:
            raise UserErrorException(
                "Python package is missing from the conda dependencies; add one with "
                f"set_python_version('{PYTHON_DEFAULT_VERSION}')")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and other.as_dict() == self.as_dict()

    def __repr__(self) -> str:
        return f"CondaDependencies({json.dumps(self.as_dict())})"


def _leading_comments(text: str) -> str:
    """The comment block (comment and blank lines) before a file's first YAML line."""
    header = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    result = "".join(header)
    if result and not result.endswith("\n"):
        result += "\n"
    return result if result.strip() else ""
