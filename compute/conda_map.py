"""Conda package names as PyPI requirements: the fallback when no conda answers.

An environment that asks for ``conda_packages`` is locked with conda-lock when a conda, mamba or
micromamba executable and the channel answer. Where they do not (most laptops and CI machines),
:func:`to_pypi` turns every conda package spec into a PyPI requirement that uv can lock, so the
environment still builds; the result records every substitution, which goes into the lock (and
so into the image digest), the warning the user sees, and the step run's properties.

The rules, in order:

* a channel prefix is stripped (``conda-forge::numpy`` -> ``numpy``; ``pytorch::pytorch``);
* ``python`` and ``pip`` leave the list: the Python version is the base image's (or this
  machine's), and the installer is uv;
* names in :data:`RENAMED` take their PyPI name (``py-xgboost`` -> ``xgboost``,
  ``pytorch`` -> ``torch``, ``tensorflow-cpu`` -> ``tensorflow`` ...);
* names in :data:`DROPPED` are dropped with the reason given there: compilers, C/C++ runtime and
  math libraries (``libgcc``, ``mkl``, ``blas``, ``nomkl`` ...), CUDA (the PyPI wheels of torch and
  tensorflow bring their own), and command-line tools that are not Python packages;
* R packages (``r-*``, ``r-base``) cannot come from PyPI: the environment is refused;
* every other name is the same on PyPI (``numpy``, ``scikit-learn``, ``python-dateutil``,
  ``pyyaml`` ...).

Versions are kept and translated to PEP 440: ``=1.2`` (conda's "1.2.*") -> ``==1.2.*``,
``==1.2.3`` stays, ``>=1,<2`` stays, ``1.2.*`` (space-separated) -> ``==1.2.*``; a build string
(``=1.2.3=py311h...``) is ignored, and an alternative (``1.2|1.3``) cannot be expressed on PyPI,
so that package is left unpinned; both say so in the substitution.

:data:`MAP_VERSION` names this table: it is part of every fallback lock's cache key and of the
lock text, so changing the table re-locks and changes the image digest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from amlocal.errors import EnvironmentBuildError

MAP_VERSION = "1"

RENAMED: dict[str, str] = {
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "xgboost-cpu": "xgboost",
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "tensorflow-cpu": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-base": "tensorflow",
    "py-lightgbm": "lightgbm",
    "lightgbm-cpu": "lightgbm",
    "py-opencv": "opencv-python-headless",
    "opencv": "opencv-python-headless",
    "matplotlib-base": "matplotlib",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "python-graphviz": "graphviz",
    "pyqt": "PyQt5",
    "ruamel_yaml": "ruamel.yaml",
    "typing_extensions": "typing-extensions",
}

_SYSTEM = "a system library; the PyPI wheels bundle what they need"
_CUDA = "CUDA libraries come with the PyPI wheels that need them (torch, tensorflow ...)"
_TOOL = "a tool or library that is not a Python package; install it in the base image if needed"
_COMPILER = "a compiler toolchain; PyPI wheels are prebuilt"

DROPPED: dict[str, str] = {
    **{name: _SYSTEM for name in (
        "libgcc", "libgcc-ng", "libgomp", "libstdcxx-ng", "libgfortran", "libgfortran-ng",
        "libgfortran5", "_libgcc_mutex", "_openmp_mutex", "mkl", "mkl-service", "mkl_fft",
        "mkl_random", "mkl-include", "intel-openmp", "llvm-openmp", "tbb", "blas", "libblas",
        "libcblas", "liblapack", "openblas", "libopenblas", "nomkl", "zlib", "xz", "bzip2",
        "libzlib", "openssl", "ca-certificates", "libffi", "ncurses", "readline", "sqlite",
        "tk", "tzdata", "ld_impl_linux-64", "libuuid", "libnsl", "libsqlite", "libxcrypt",
        "hdf5", "libxgboost", "_py-xgboost-mutex", "libopencv", "yaml", "libprotobuf",
        "icu", "freetype", "libpng", "jpeg", "libjpeg-turbo", "libtiff", "libwebp",
        "fontconfig", "pcre", "pcre2", "expat", "krb5", "libcurl", "libiconv",
        "libxml2", "libarrow", "arrow-cpp", "libuv", "libedit", "libssh2",
    )},
    **{name: _CUDA for name in (
        "cudatoolkit", "cudnn", "cuda-toolkit", "cuda-nvcc", "cuda-runtime", "cuda-version",
        "cuda", "nccl", "cupti", "pytorch-cuda", "cuda-cudart", "magma-cuda110",
    )},
    **{name: _COMPILER for name in (
        "gcc", "gxx", "gfortran", "gcc_linux-64", "gxx_linux-64", "gfortran_linux-64",
        "compilers", "c-compiler", "cxx-compiler", "fortran-compiler", "make", "binutils",
    )},
    **{name: _TOOL for name in ("git", "nodejs", "graphviz", "openjdk", "ffmpeg", "curl",
                                "wget", "unzip", "conda", "mamba")},
}


@dataclass(frozen=True)
class Substitution:
    """One conda package spec and what replaces it: ``pypi`` None means dropped."""

    conda: str
    pypi: str | None
    note: str = ""

    def describe(self) -> str:
        if self.pypi is None:
            return f"{self.conda} dropped ({self.note})"
        if self.pypi == self.conda and not self.note:
            return f"{self.conda} (same name on PyPI)"
        text = f"{self.conda} -> {self.pypi}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class PyPIFallback:
    """The outcome of :func:`to_pypi`: the PyPI requirements and what became of every conda
    package (kept names included)."""

    requirements: tuple[str, ...]
    substitutions: tuple[Substitution, ...]

    def lines(self) -> tuple[str, ...]:
        """One human-readable line per substitution (what the lock and the run record)."""
        return tuple(s.describe() for s in self.substitutions)


_SPEC = re.compile(r"^\s*([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(.*?)\s*$")
_BRACKET = re.compile(r"\[\s*version\s*=\s*['\"]([^'\"]+)['\"]\s*\]")


def split_spec(spec: str) -> tuple[str, str]:
    """``(name, conda version text)`` of a conda match spec, the channel prefix removed."""
    text = str(spec).strip()
    if "::" in text:
        text = text.split("::", 1)[1]
    bracket = _BRACKET.search(text)
    if bracket:
        text = text[:bracket.start()] + " " + bracket.group(1)
    m = _SPEC.match(text)
    if not m:
        raise EnvironmentBuildError(f"conda package spec {spec!r} is not valid; write it as "
                                    f"'name', 'name=1.2' or 'name>=1.2'")
    return m.group(1), m.group(2).strip()


def pep440(version: str) -> tuple[str, str]:
    """``(PEP 440 specifier, note)`` for a conda version text (``""`` when unpinned)."""
    version = version.strip()
    note = ""
    if not version or version == "*":
        return "", note
    if "|" in version:
        return "", f"version {version!r} has alternatives PyPI cannot express: unpinned"
    if version.startswith("=") and not version.startswith("=="):
        version = version[1:]                       # conda "=1.2" is "1.2.*"
        version, _, build = version.partition("=")
        if build:
            note = f"build string {build!r} ignored"
        version = version.strip()
        if version in ("", "*"):
            return "", note
        return "==" + (version if version.endswith("*") else version + ".*"), note
    parts = version.split()
    if len(parts) == 2 and not re.match(r"^[<>=!~]", parts[1]):
        version, build = parts[0], parts[1]          # "1.2.3 py311h..." (version and build)
        note = f"build string {build!r} ignored"
    else:
        version = "".join(parts)
    if version.startswith("=="):
        body, _, build = version[2:].partition("=")
        if build:
            note = f"build string {build!r} ignored"
        return "==" + body, note
    if re.match(r"^[<>!~]", version):
        return version, note
    if version[0].isdigit():                        # bare "1.2.*" or "1.2.3"
        return "==" + version, note
    return version, note


def to_pypi(conda_packages, python: str | None = None,
            base_python: str | None = None) -> PyPIFallback:
    """Map conda package specs to PyPI requirements (see the module docstring).

    ``python``/``base_python``: the Python version the environment asks for and the one the
    base provides; when they differ, that difference is recorded as a substitution too.
    Raises EnvironmentBuildError for R packages and unparseable specs.
    """
    requirements: list[str] = []
    subs: list[Substitution] = []
    r_packages = []
    for raw in conda_packages:
        spec = str(raw).strip()
        if not spec:
            continue
        name, version = split_spec(spec)
        key = name.lower()
        if key in ("python", "pip"):
            what = (f"the Python is the base's{f', {base_python}' if base_python else ''}"
                    if key == "python" else "uv installs the packages")
            subs.append(Substitution(spec, None, what))
            continue
        if key == "r-base" or key.startswith("r-"):
            r_packages.append(spec)
            continue
        if key in DROPPED:
            subs.append(Substitution(spec, None, DROPPED[key]))
            continue
        specifier, note = pep440(version)
        pypi_name = RENAMED.get(key, name)
        requirement = pypi_name + specifier
        requirements.append(requirement)
        subs.append(Substitution(spec, requirement, note))
    if r_packages:
        raise EnvironmentBuildError(
            f"conda package(s) {', '.join(r_packages)} are R packages, which cannot be installed "
            f"from PyPI and no conda answers here: install conda, mamba or micromamba (with its "
            f"channel reachable), or run R code in an image that has it "
            f"(Environment.from_docker_image)")
    listed = any(s.conda.split("::")[-1].lower().startswith("python") and s.pypi is None
                 for s in subs)
    if python and base_python and not listed:
        wanted = ".".join(str(python).split(".")[:2])
        if wanted != base_python:
            subs.insert(0, Substitution(f"python={python}", f"Python {base_python}",
                                        "the base's Python"))
    return PyPIFallback(tuple(dict.fromkeys(requirements)), tuple(subs))
