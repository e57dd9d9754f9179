"""Lock an :class:`EnvironmentSpec` into a :class:`ResolvedEnvironment`.

Two lock formats, chosen by the spec:

* **PyPI only** (``conda_packages`` empty, the common case): ``uv pip compile --generate-hashes``
  for the base image's Python ``X.Y`` and ``<arch>-manylinux_2_28``. The lock is a pip-compatible
  ``requirements.txt``: every distribution pinned with ``==`` and followed by its ``--hash=sha256:``
  lines (plus ``--index-url``/``--extra-index-url``/``--find-links`` lines), installed in the image
  or virtualenv with ``uv pip install --require-hashes -r requirements.lock``.
* **conda packages asked for**: ``conda-lock lock`` for ``linux-64``/``linux-aarch64``; the lock is
  conda-lock's unified ``conda-lock.yml`` (``version: 1``, ``metadata`` with channels, platforms and
  content hashes, a ``package`` list of conda and pip entries with url and md5/sha256). The image
  installs it with ``micromamba create -f conda-lock.yml`` and then the lock's pip entries by URL
  and hash. Locking needs a conda/mamba/micromamba executable *and* a reachable channel;
  :func:`conda_availability` tells in well under a second whether both are there.

* **conda packages, but no conda answers** (no executable, or the channel is unreachable; always
  for the ``local`` compute target, which builds a virtualenv): the conda packages are mapped to
  PyPI requirements by :mod:`amlocal.compute.conda_map` and locked with uv like a PyPI-only
  environment. The lock text starts with :data:`FALLBACK_HEADER` and one comment line per
  substitution, so the lock (and so the image digest) records what the map did; the user sees
  one warning per environment naming every substitution.
* **user-managed dependencies** (``python.user_managed_dependencies``): nothing is locked or
  installed. The image is the base image plus a small ``python`` launcher for the environment's
  ``interpreter_path`` (template ``Dockerfile.user``); the lock text is one comment line naming
  the interpreter.

Locks are cached under ``<AMLOCAL_HOME>/locks/<key>.lock`` where ``key`` is the sha256 of the
lock-relevant part of the spec (packages, channels, options; not its name or environment
variables), the target Python ``X.Y``, platform and installer: an unchanged spec is never locked
again, which is what makes an unchanged resubmit build nothing.

``digest`` (see :func:`compute_digest`) is the sha256 over the lock bytes, the installer name and
version, the Dockerfile template bytes, the environment variables baked into the image and the
base image's RootFS layer digests (not its image id, which differs between daemons). The image is
tagged ``amlocal-env:<digest[:32]>``; the local backend names its virtualenv by the same digest.
The template enters the digest as written: the BuildKit form of its uv install line (a cache
mount for uv's download cache, see :func:`amlocal.compute.images.render_dockerfile`) changes
how the locked files arrive, not which, so both builders give one environment one digest.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from amlocal import _settings
from amlocal.errors import EnvironmentBuildError

from .base import EnvironmentSpec, ResolvedEnvironment
# the facts shared with the image build live in a leaf below both (re-exported here)
from .build_inputs import (CONDA_TEMPLATE, TEMPLATES, USER_MANAGED, USER_TEMPLATE,  # noqa: F401
                           UV_TEMPLATE, BaseInfo, ca_bundle, conda_install_plan, conda_platform,
                           host_base, load_recorded_conda_lock, major_minor, normalize_arch,
                           pip_requirements_from_conda_lock, template_bytes, template_name,
                           uv_platform, write_atomic)

Log = Callable[[str], None]

FALLBACK_HEADER = "# amlocal: conda packages installed from PyPI"
_FALLBACK_LINE = "#   "
LOCK_FORMAT = "1"                 # bump to invalidate every cached lock
IMAGE_REPOSITORY = "amlocal-env"
DEFAULT_CONDA_CHANNEL = "conda-forge"
CONDA_PROBE_TIMEOUT = 3.0

# pip options uv understands inside a requirements file; everything else is dropped with a warning.
_REQUIREMENT_FILE_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f",
                             "--no-index")


def installer_for(spec: EnvironmentSpec, lock_text: str | None = None) -> str:
    """``user-managed``, ``conda-lock`` (conda packages), else ``uv``; a lock made by the PyPI
    fallback (it starts with :data:`FALLBACK_HEADER`) is a ``uv`` lock."""
    if spec.user_managed:
        return USER_MANAGED
    if lock_text is not None and lock_text.startswith(FALLBACK_HEADER):
        return "uv"
    return "conda-lock" if spec.conda_packages else "uv"


def conda_substitutions(lock_text: str) -> tuple[str, ...]:
    """The substitutions a PyPI-fallback lock records (empty for any other lock)."""
    if not lock_text.startswith(FALLBACK_HEADER):
        return ()
    found = []
    for line in lock_text.splitlines()[1:]:
        if not line.startswith("#"):
            break
        if line.startswith(_FALLBACK_LINE):
            found.append(line[len(_FALLBACK_LINE):].strip())
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# resolve

def resolve(spec: EnvironmentSpec, log: Log = print, *,
            base_image: str | None = None, base: BaseInfo | None = None,
            pull: bool = True, allow_conda: bool = True) -> ResolvedEnvironment:
    """Lock ``spec`` (from the cache when it was locked before) and compute its digest.

    ``base_image`` overrides :func:`images.choose_base_image`; ``base`` skips Docker entirely
    (the local backend passes :func:`host_base`); ``pull=False`` never pulls a missing base;
    ``allow_conda=False`` maps conda packages to PyPI even where conda answers (a virtualenv).

    Raises EnvironmentBuildError when a package cannot be resolved (the message names it), when
    a conda package has no PyPI counterpart (R packages) and no conda answers, or when no base
    image exists; DockerUnavailableError when a base image must be inspected and no engine
    answers.
    """
    if base is None:
        from . import images
        name = base_image or images.choose_base_image(spec, log=log, pull=pull)
        base = images.describe_base(name, log=log, pull=pull)
    if spec.user_managed:
        return resolved_from_lock(spec, user_managed_lock(spec), base)
    if spec.conda_packages:
        path = lock_path(spec, base)
        if allow_conda and path.is_file():     # a conda-lock.yml locked or recorded before
            return resolved_from_lock(spec, path.read_text(encoding="utf-8"), base)
        if allow_conda:
            ok, detail = conda_availability(spec.conda_channels)
        else:
            ok, detail = False, "the environment is built as a virtualenv"
        if ok:
            lock_text = lock_with_conda(spec, base, log, executable=detail)
            write_atomic(path, lock_text)
            return resolved_from_lock(spec, lock_text, base)
        return resolve_on_pypi(spec, base, log, reason=detail)
    if spec.python_version and major_minor(spec.python_version) != base.python:
        log(f"warning: environment '{spec.name}' asks for Python {spec.python_version} but "
            f"{base.image or 'this machine'} provides Python {base.python}; the packages are "
            f"locked and installed for Python {base.python}. Choose a base image with Python "
            f"{major_minor(spec.python_version)} to match.")
    path = lock_path(spec, base)
    if path.is_file():
        lock_text = path.read_text(encoding="utf-8")
    else:
        lock_text = lock_with_uv(spec, base, log)
        write_atomic(path, lock_text)
    return resolved_from_lock(spec, lock_text, base)


def resolve_on_pypi(spec: EnvironmentSpec, base: BaseInfo, log: Log = print, *,
                    reason: str = "") -> ResolvedEnvironment:
    """Lock ``spec``'s conda packages from PyPI with uv through :mod:`.conda_map` (see the
    module docstring); logs one warning naming every substitution. Raises
    EnvironmentBuildError (R packages; a package uv cannot resolve)."""
    import dataclasses

    from .conda_map import MAP_VERSION, to_pypi
    fallback = to_pypi(spec.conda_packages, spec.python_version, base.python)
    effective = dataclasses.replace(
        spec, conda_packages=(), conda_channels=(), python_version=None,
        pip_packages=tuple(dict.fromkeys((*spec.pip_packages, *fallback.requirements))))
    changes = "; ".join(fallback.lines()) or "every name is the same on PyPI"
    channels = ", ".join(spec.conda_channels) or DEFAULT_CONDA_CHANNEL
    log(f"warning: environment '{spec.name}': no conda here ({reason}), so its conda packages "
        f"({', '.join(spec.conda_packages)}) are installed from PyPI with uv instead of from "
        f"{channels}: {changes}. Install conda, mamba or micromamba to use conda packages.")
    path = lock_path(effective, base, fallback=MAP_VERSION)
    if path.is_file():
        return resolved_from_lock(spec, path.read_text(encoding="utf-8"), base)
    header = [f"{FALLBACK_HEADER} (conda-to-PyPI map v{MAP_VERSION}); conda packages: "
              f"{', '.join(spec.conda_packages)}"]
    header += [_FALLBACK_LINE + line for line in fallback.lines()]
    lock_text = "\n".join(header) + "\n" + lock_with_uv(effective, base, log)
    write_atomic(path, lock_text)
    return resolved_from_lock(spec, lock_text, base)


def user_managed_lock(spec: EnvironmentSpec) -> str:
    """The "lock" of a user-managed environment: one comment naming its interpreter."""
    return (f"# amlocal: user-managed dependencies, nothing installed; interpreter "
            f"{spec.interpreter_path or 'python'}\n")


def resolved_from_lock(spec: EnvironmentSpec, lock_text: str,
                       base: BaseInfo) -> ResolvedEnvironment:
    """The ResolvedEnvironment for an existing lock (no solving, no Docker)."""
    installer = installer_for(spec, lock_text)
    version = installer_version(installer)
    template = template_bytes(installer)
    digest = compute_digest(lock_text, installer, version, template, base.layers,
                            spec.environment_variables)
    return ResolvedEnvironment(spec=spec, installer=installer, installer_version=version,
                               lock_text=lock_text, digest=digest, base_image=base.image,
                               image=f"{IMAGE_REPOSITORY}:{digest[:32]}")


def compute_digest(lock_text: str, installer: str, installer_version: str, template: bytes,
                   base_layers, environment_variables: dict | None = None) -> str:
    """sha256 hex over lock, installer name/version, template bytes, baked-in environment
    variables and base layer digests; each part length-prefixed so parts cannot run together."""
    h = hashlib.sha256()

    def part(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)

    part(b"amlocal-env/1")
    part(lock_text.encode("utf-8"))
    part(installer.encode())
    part(installer_version.encode())
    part(template)
    part(json.dumps(environment_variables or {}, sort_keys=True, default=str).encode())
    for layer in base_layers:
        part(str(layer).encode())
    return h.hexdigest()


def installer_version(installer: str) -> str:
    """The installed version of ``uv`` or ``conda-lock`` (the uv version is also the one put
    into images)."""
    from importlib import metadata
    if installer == USER_MANAGED:
        return ""
    dist = "uv" if installer == "uv" else "conda-lock"
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if installer == "uv":
            out = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True)
            m = re.search(r"(\d+\.\d+\.\d+)", out.stdout)
            if m:
                return m.group(1)
        return "unknown"


# ---------------------------------------------------------------------------------------------
# lock cache

def lock_key(spec: EnvironmentSpec, base: BaseInfo, *, fallback: str | None = None) -> str:
    """sha256 over the canonical JSON of what decides the lock (``fallback``: the conda-to-PyPI
    map version a PyPI-fallback lock was made with)."""
    installer = installer_for(spec)
    data = {
        "format": LOCK_FORMAT,
        "installer": installer,
        "python": base.python,
        "platform": base.platform,
        "pip_packages": sorted(set(spec.pip_packages)),
        "pip_options": list(spec.pip_options),
        "conda_channels": list(spec.conda_channels),
        "conda_packages": sorted(set(spec.conda_packages)),
        # the conda environment installs its own Python; the uv path uses the base's
        "python_version": spec.python_version if installer == "conda-lock" else None,
    }
    if fallback is not None:
        data["conda_fallback"] = fallback
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def lock_path(spec: EnvironmentSpec, base: BaseInfo, *, fallback: str | None = None) -> Path:
    return _settings.current().locks / f"{lock_key(spec, base, fallback=fallback)}.lock"


def record_lock(spec: EnvironmentSpec, lock_text: str, base: BaseInfo) -> Path:
    """Store ``lock_text`` as the cached lock of ``spec`` for ``base`` (e.g. a recorded
    conda-lock.yml), so :func:`resolve` uses it without solving."""
    path = lock_path(spec, base)
    write_atomic(path, lock_text)
    return path


# ---------------------------------------------------------------------------------------------
# uv

def uv_binary() -> str:
    """Path of the uv executable installed with amlocal. Raises EnvironmentBuildError."""
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except Exception:  # noqa: BLE001 - fall back to PATH
        found = shutil.which("uv")
    if found:
        return found
    raise EnvironmentBuildError("uv is not installed: `pip install uv` (amlocal locks PyPI "
                                "packages with it)")


def requirements_in(spec: EnvironmentSpec, log: Log = print) -> tuple[str, list[str]]:
    """The ``requirements.in`` text for ``spec`` and extra ``uv pip compile`` flags."""
    lines: list[str] = []
    flags: list[str] = []
    for option in spec.pip_options:
        option = option.strip()
        if not option:
            continue
        word = option.split()[0].split("=")[0]
        if word in _REQUIREMENT_FILE_OPTIONS:
            lines.append(option)
        elif word == "--pre":
            flags += ["--prerelease", "allow"]
        else:
            log(f"warning: environment '{spec.name}': pip option {option!r} is ignored")
    lines += sorted(set(p.strip() for p in spec.pip_packages if p.strip()))
    return "\n".join(lines) + "\n", flags


def lock_with_uv(spec: EnvironmentSpec, base: BaseInfo, log: Log = print) -> str:
    """Run ``uv pip compile --generate-hashes`` for ``base``'s Python and platform.

    Raises EnvironmentBuildError naming the package(s) uv could not resolve, with uv's words.
    """
    text, flags = requirements_in(spec, log)
    if not spec.pip_packages:
        return ""
    log(f"locking environment '{spec.name}' with uv for Python {base.python} "
        f"({len(spec.pip_packages)} requested package(s))")
    with tempfile.TemporaryDirectory(prefix="amlocal-lock-") as tmp:
        Path(tmp, "requirements.in").write_text(text, encoding="utf-8")
        cmd = [uv_binary(), "pip", "compile", "--generate-hashes",
               "--python-version", base.python,
               "--python-platform", uv_platform(base.platform),
               "--no-header", "--quiet", "--emit-index-url", "--emit-find-links",
               *flags, "requirements.in", "-o", "requirements.txt"]
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as exc:
            raise EnvironmentBuildError(
                f"locking environment '{spec.name}' timed out after {exc.timeout:.0f} s "
                f"(packages: {', '.join(spec.pip_packages)}); is the package index reachable?"
            ) from None
        if proc.returncode != 0:
            raise uv_failure(spec, proc.stderr or proc.stdout)
        return Path(tmp, "requirements.txt").read_text(encoding="utf-8")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(req: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return m.group(1) if m else req.strip()


def uv_failure(spec: EnvironmentSpec, output: str) -> EnvironmentBuildError:
    """An EnvironmentBuildError naming the requested packages uv's ``output`` blames."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    relevant = [ln for ln in lines if not ln.lstrip().startswith(("Resolved", "Using", "warning"))]
    text = "\n".join(relevant).lower()
    names = [p for p in spec.pip_packages
             if re.search(r"(?<![a-z0-9_.-])" + re.escape(_normalize(requirement_name(p)))
                          + r"(?![a-z0-9_-])", re.sub(r"[-_.]+", "-", text))]
    if not names:
        names = list(spec.pip_packages)
    excerpt = "\n".join("    " + ln for ln in relevant[:25])
    problem = ("is not a valid requirement" if "couldn't parse requirement" in text else
               "could not be resolved (check the name and version exist on the package index)")
    return EnvironmentBuildError(
        f"could not lock environment '{spec.name}': package(s) {', '.join(names)} {problem}.\n"
        f"uv said:\n{excerpt}")


# ---------------------------------------------------------------------------------------------
# conda

def find_conda_executable() -> str | None:
    """``$CONDA_EXE`` if it exists, else micromamba, mamba or conda on PATH, else None."""
    exe = os.environ.get("CONDA_EXE")
    if exe and os.path.isfile(exe) and os.access(exe, os.X_OK):
        return exe
    for name in ("micromamba", "mamba", "conda"):
        found = shutil.which(name)
        if found:
            return found
    return None


def channel_probe_url(channel: str) -> str:
    """The ``noarch/repodata.json`` URL of a channel name or URL."""
    channel = channel.strip().rstrip("/")
    if channel in ("defaults", "anaconda", "main"):
        return "https://repo.anaconda.com/pkgs/main/noarch/repodata.json"
    if channel.startswith(("http://", "https://")):
        return channel + "/noarch/repodata.json"
    return f"https://conda.anaconda.org/{channel}/noarch/repodata.json"


def conda_availability(channels=(), timeout: float = CONDA_PROBE_TIMEOUT) -> tuple[bool, str]:
    """``(True, executable)`` when conda-lock can work here, else ``(False, reason)``.

    Fast: looks for an executable first (no network when there is none), then sends one HEAD
    request with ``timeout`` to the first channel. Never raises.
    """
    exe = find_conda_executable()
    if not exe:
        return False, "no conda, mamba or micromamba executable on PATH (nor $CONDA_EXE)"
    url = channel_probe_url((list(channels) or [DEFAULT_CONDA_CHANNEL])[0])
    import ssl
    import urllib.request
    try:
        context = ssl.create_default_context(cafile=ca_bundle())
        req = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            if resp.status >= 400:
                return False, f"channel {url} answered HTTP {resp.status}"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return False, f"channel {url} did not answer ({exc})"
    return True, exe


def environment_yml(spec: EnvironmentSpec, base: BaseInfo) -> dict:
    """The conda ``environment.yml`` content conda-lock solves for ``spec``."""
    deps: list = [f"python={major_minor(spec.python_version or base.python)}",
                  *spec.conda_packages]
    if spec.pip_packages:
        deps += ["pip", {"pip": list(spec.pip_packages)}]
    return {"name": spec.name, "channels": list(spec.conda_channels) or [DEFAULT_CONDA_CHANNEL],
            "dependencies": deps}


def lock_with_conda(spec: EnvironmentSpec, base: BaseInfo, log: Log = print, *,
                    executable: str | None = None) -> str:
    """Run ``conda-lock lock`` and return the unified ``conda-lock.yml`` text.

    ``executable``: the conda executable :func:`conda_availability` found (probed when None).
    Raises EnvironmentBuildError at once (no minute of retries) when there is no conda executable
    or the channel does not answer, and when the solve fails (naming the packages it blames).
    """
    import yaml
    ok, detail = (True, executable) if executable else conda_availability(spec.conda_channels)
    channels = list(spec.conda_channels) or [DEFAULT_CONDA_CHANNEL]
    if not ok:
        raise EnvironmentBuildError(
            f"environment '{spec.name}' asks for conda packages ({', '.join(spec.conda_packages)}) "
            f"but they cannot be locked here: {detail}. Fix: install conda, mamba or micromamba "
            f"and make the channel {channels[0]} reachable, or move these packages to pip "
            f"packages (PyPI) if they exist there.")
    if spec.pip_options:
        log(f"warning: environment '{spec.name}': pip options are ignored for conda environments")
    platform = conda_platform(base.platform)
    log(f"locking environment '{spec.name}' with conda-lock for {platform}")
    with tempfile.TemporaryDirectory(prefix="amlocal-condalock-") as tmp:
        Path(tmp, "environment.yml").write_text(yaml.safe_dump(environment_yml(spec, base)))
        cmd = [sys.executable, "-m", "conda_lock", "lock", "--conda", detail,
               "-f", "environment.yml", "-p", platform, "--lockfile", "conda-lock.yml"]
        if os.path.basename(detail).startswith("micromamba"):
            cmd.insert(4, "--micromamba")
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            raise EnvironmentBuildError(f"conda-lock timed out locking '{spec.name}'") from None
        if proc.returncode != 0:
            out = (proc.stderr + "\n" + proc.stdout).strip()
            blamed = [p for p in (*spec.conda_packages, *spec.pip_packages)
                      if requirement_name(p).lower() in out.lower()] or list(spec.conda_packages)
            tail = "\n".join("    " + ln for ln in out.splitlines()[-25:])
            raise EnvironmentBuildError(
                f"could not lock environment '{spec.name}': package(s) {', '.join(blamed)} could "
                f"not be solved by conda-lock.\nconda-lock said:\n{tail}")
        return Path(tmp, "conda-lock.yml").read_text(encoding="utf-8")
