"""Base images and environment images, through docker-py.

* :func:`choose_base_image` picks the image an environment builds ``FROM`` without touching the
  network when a usable one is present; :func:`amlocal.compute.bootstrap.bootstrap_base` builds
  :data:`OFFLINE_BASE` with ``debootstrap`` when no registry is reachable.
* :func:`ensure_image` builds ``amlocal-env:<digest[:32]>`` from ``templates/Dockerfile.uv`` (or
  ``Dockerfile.conda``; ``Dockerfile.user`` for user-managed dependencies: the base image as it
  is plus the :func:`interpreter_launcher`) only when it is missing, streaming the build to
  ``<AMLOCAL_HOME>/build-logs/<digest>.log`` and its step times to ``<digest>.json``
  (:func:`last_build_report`).
* Builds go through the engine's BuildKit (:mod:`.buildkit`) where it has one: uv's download
  cache then lives in a BuildKit cache mount shared by every build on the engine, so a second
  environment downloads only what no environment downloaded before, and the image export does
  not copy the installed tree once more as the legacy builder's commit does. ``AMLOCAL_BUILDKIT=0``
  (or an engine without BuildKit) uses the legacy builder, whose uv install runs ``--no-cache``.
  Azure ML builds images remotely with its own Docker builder; where the files come from differs,
  the files installed (the lock's, checked against its hashes) do not.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from amlocal import _settings
from amlocal.errors import DockerUnavailableError, EnvironmentBuildError

from . import buildkit
from .base import EnvironmentSpec, ResolvedEnvironment
from .buildkit import BuildReport
from .docker_errors import detail, docker_errors, translate
from .build_inputs import (TEMPLATES, USER_MANAGED, BaseInfo, ca_bundle, normalize_arch,
                           pip_requirements_from_conda_lock, template_name, write_atomic)

Log = Callable[[str], None]

OFFLINE_BASE = "amlocal/base:bookworm"
DEFAULT_BASE = "python:3.11-slim"
AZURE_IMAGE_PREFIX = "mcr.microsoft.com/azureml/"
PING_TIMEOUT = 10
_KNOWN_PYTHON = {OFFLINE_BASE: "3.11", DEFAULT_BASE: "3.11"}
_pull_failures: dict[str, str] = {}     # image -> error, so a process tries each pull once


# ---------------------------------------------------------------------------------------------
# the engine

_CLIENTS: dict = {}   # (pid, engine address) -> (client, last ping): a connection pool, never
PING_AGAIN = 2.0      # shared across fork; pinged again when last asked more than 2 s ago


def docker_client():
    """A docker-py client whose engine answered a ping.

    The client (its HTTP connection pool) is kept per process and engine address, so a run
    does not build one per call; a forked process makes its own. It is pinged again when the
    last call was more than :data:`PING_AGAIN` seconds ago (a call to an engine that went away
    in between fails with the same DockerUnavailableError through ``docker_errors``).
    Raises DockerUnavailableError when docker-py cannot connect or the engine does not answer.
    """
    key = (os.getpid(), os.environ.get("DOCKER_HOST"), os.environ.get("DOCKER_CERT_PATH"),
           os.environ.get("DOCKER_TLS_VERIFY"))
    try:
        client, pinged = _CLIENTS.get(key, (None, 0.0))
        if client is None:
            import docker
            from docker.constants import DEFAULT_TIMEOUT_SECONDS
            client = docker.from_env(timeout=PING_TIMEOUT)   # an unreachable tcp:// host fails fast
            client.ping()
            client.api.timeout = DEFAULT_TIMEOUT_SECONDS
            _CLIENTS.clear()          # at most one: an old pid's or address's client is dropped
        elif time.monotonic() - pinged > PING_AGAIN:
            client.ping()
        _CLIENTS[key] = (client, time.monotonic())
        return client
    except Exception as exc:  # noqa: BLE001 - DockerException, requests errors, OSError alike
        _CLIENTS.pop(key, None)
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DockerUnavailableError(detail) from None


def _get_image(client, name: str):
    """The engine's image ``name``, or None. Raises DockerUnavailableError, ComputeError."""
    import docker
    with docker_errors(f"looking up image {name}"):
        try:
            return client.images.get(name)
        except docker.errors.ImageNotFound:
            return None


def image_exists(name: str, client=None) -> bool:
    """True when the engine has an image called ``name``. Raises DockerUnavailableError."""
    return _get_image(client or docker_client(), name) is not None


# ---------------------------------------------------------------------------------------------
# base images

def is_azure_default(image: str | None) -> bool:
    return bool(image) and image.strip().startswith(AZURE_IMAGE_PREFIX)


def _no_base_message(detail: str) -> str:
    return (f"no base image: no registry answered ({detail}). Run `amlocal env bootstrap-base` "
            f"to build {OFFLINE_BASE} offline with debootstrap, or set AMLOCAL_BASE_IMAGE to an "
            f"image present locally.")


def choose_base_image(spec: EnvironmentSpec | None = None, log: Log = print,
                      *, pull: bool = True) -> str:
    """The base image name for ``spec``.

    ``spec.base_image`` (Azure's ``mcr.microsoft.com/azureml/...`` defaults mean "use ours"),
    else ``$AMLOCAL_BASE_IMAGE``, else :data:`DEFAULT_BASE` or :data:`OFFLINE_BASE` if present
    locally, else one ``docker pull`` of :data:`DEFAULT_BASE` (when ``pull``).

    Raises EnvironmentBuildError when there is no base image and the pull fails (or is not
    allowed); DockerUnavailableError when the engine must be asked and does not answer.
    """
    if spec is not None and spec.base_image and not is_azure_default(spec.base_image):
        return spec.base_image
    env = os.environ.get("AMLOCAL_BASE_IMAGE", "").strip()
    if env:
        return env
    client = docker_client()
    for name in (DEFAULT_BASE, OFFLINE_BASE):
        if _get_image(client, name) is not None:
            return name
    if not pull:
        raise EnvironmentBuildError(_no_base_message("pulling was not allowed"))
    _pull(client, DEFAULT_BASE, log)
    return DEFAULT_BASE


def _pull(client, name: str, log: Log):
    """Pull ``name`` once per process. Raises EnvironmentBuildError when it fails."""
    def failure() -> EnvironmentBuildError:
        detail = f"docker pull {name}: {_pull_failures[name]}"
        if name == DEFAULT_BASE:
            return EnvironmentBuildError(_no_base_message(detail))
        return EnvironmentBuildError(
            f"base image {name} is not present locally and could not be pulled ({detail}). "
            f"Build or load it, or leave the base image unset to use {DEFAULT_BASE} or "
            f"{OFFLINE_BASE} (`amlocal env bootstrap-base` builds the latter offline).")

    if name in _pull_failures:
        raise failure()
    from docker.utils import parse_repository_tag
    log(f"pulling base image {name} (not present locally) ...")
    repo, tag = parse_repository_tag(name)
    try:
        return client.images.pull(repo, tag=tag or "latest")
    except Exception as exc:  # noqa: BLE001 - APIError, ConnectionError, timeouts
        error = translate(exc, f"pulling image {name}")
        if error is None:
            raise
        if isinstance(error, DockerUnavailableError):
            raise error from None
        _pull_failures[name] = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise failure() from None


def describe_base(name: str, log: Log = print, *, pull: bool = True) -> BaseInfo:
    """Python ``X.Y``, architecture and RootFS layers of base image ``name`` (pulled once when
    missing and ``pull``). Raises EnvironmentBuildError, DockerUnavailableError."""
    client = docker_client()
    image = _get_image(client, name)
    if image is None:
        if not pull:
            raise EnvironmentBuildError(f"base image {name} is not present locally")
        _pull(client, name, log)
        image = _get_image(client, name)
        if image is None:
            raise EnvironmentBuildError(f"base image {name} is still missing after docker pull")
    attrs = image.attrs
    layers = tuple((attrs.get("RootFS") or {}).get("Layers") or ()) or (image.id,)
    return BaseInfo(image=name, python=base_python(client, image, name),
                    platform=normalize_arch(attrs.get("Architecture", "")), layers=layers)


def base_python(client, image, name: str) -> str:
    """The Python ``X.Y`` of a base image: its ``amlocal.python`` label, a known name, a
    ``python:X.Y`` tag, or ``python3`` run in it once (cached by image id).

    Raises EnvironmentBuildError when the image has no ``python3``.
    """
    label = (image.labels or {}).get("amlocal.python")
    if label:
        return label
    if name in _KNOWN_PYTHON:
        return _KNOWN_PYTHON[name]
    m = re.match(r"^(?:[^/]+/)*python:(\d+\.\d+)", name)
    if m:
        return m.group(1)
    cache = _settings.current().locks / f"python-{image.id.split(':')[-1]}.txt"
    if cache.is_file():
        return cache.read_text().strip()
    try:
        out = client.containers.run(image.id, ["python3", "-c",
                                               "import sys; print('%d.%d' % sys.version_info[:2])"],
                                    remove=True, network_mode="none")
    except Exception as exc:  # noqa: BLE001 - ContainerError, APIError
        error = translate(exc, f"asking base image {name} for its Python version")
        if error is None:
            raise
        if isinstance(error, DockerUnavailableError):
            raise error from None
        raise EnvironmentBuildError(f"base image {name} has no working python3 "
                                    f"({detail(exc)}): choose a base image with python3") from None
    version = out.decode().strip().splitlines()[-1]
    write_atomic(cache, version + "\n")
    return version


# ---------------------------------------------------------------------------------------------
# environment images

_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# BuildKit form of the uv install line: uv's download cache in a cache mount shared by every
# build on the engine (never in an image; uv checks every file against the lock's hashes), files
# copied out of it (a hard link cannot cross from the mount into the image's layer). It changes
# how the locked files arrive, not which: the digest covers the template as written.
_UV_INSTALL = "RUN @@CA_ENV@@ /opt/env/bin/uv pip install --no-cache "
UV_CACHE_ID = "amlocal-uv-cache"
_UV_CACHE_DIR = "/var/cache/amlocal/uv"
_UV_INSTALL_BUILDKIT = (f"RUN --mount=type=cache,id={UV_CACHE_ID},target={_UV_CACHE_DIR} "
                        f"@@CA_ENV@@ /opt/env/bin/uv pip install --cache-dir {_UV_CACHE_DIR} "
                        "--link-mode copy ")


def render_dockerfile(resolved: ResolvedEnvironment, *, with_ca: bool = True,
                      buildkit: bool = False) -> str:
    """The Dockerfile text for ``resolved`` (no Docker needed); ``buildkit``: for BuildKit,
    whose uv install line reads uv's download cache from a cache mount.

    Raises EnvironmentBuildError for an environment variable name Docker cannot take.
    """
    text = (TEMPLATES / template_name(resolved.installer)).read_text(encoding="utf-8")
    if buildkit and resolved.installer == "uv":
        if _UV_INSTALL not in text:
            raise EnvironmentBuildError(f"template {template_name('uv')} has no line "
                                        f"starting {_UV_INSTALL!r}")
        text = text.replace(_UV_INSTALL, _UV_INSTALL_BUILDKIT)
    ca_env = ("env SSL_CERT_FILE=/opt/amlocal/ca.pem PIP_CERT=/opt/amlocal/ca.pem "
              "REQUESTS_CA_BUNDLE=/opt/amlocal/ca.pem MAMBA_SSL_VERIFY=/opt/amlocal/ca.pem"
              if with_ca else "")
    env_lines = []
    for key, value in sorted((resolved.spec.environment_variables or {}).items()):
        if not _ENV_KEY.match(str(key)):
            raise EnvironmentBuildError(f"environment '{resolved.spec.name}': {key!r} is not a "
                                        f"valid environment variable name")
        quoted = json.dumps(str(value), ensure_ascii=False).replace("$", "\\$")
        env_lines.append(f"ENV {key}={quoted}")
    replacements = {
        "@@BASE@@": resolved.base_image,
        "@@CA_ENV@@": ca_env,
        "@@UV_VERSION@@": resolved.installer_version,
        "@@CONDA_PLATFORM@@": _lock_conda_platform(resolved),
        "@@ENV@@": "\n".join(env_lines),
    }
    for marker, value in replacements.items():
        text = text.replace(marker, value)
    return text.rstrip() + "\n"


def _lock_conda_platform(resolved: ResolvedEnvironment) -> str:
    return "linux-aarch64" if "linux-aarch64" in resolved.lock_text else "linux-64"


def write_context(resolved: ResolvedEnvironment, folder, *, buildkit: bool = False) -> Path:
    """Write the build context (Dockerfile, lock, CA bundle) for ``resolved`` into ``folder``."""
    folder = Path(folder)
    ca = ca_bundle()
    (folder / "Dockerfile").write_text(
        render_dockerfile(resolved, with_ca=ca is not None, buildkit=buildkit), encoding="utf-8")
    if ca:
        shutil.copyfile(ca, folder / "ca.pem")
    else:
        (folder / "ca.pem").write_text("")
    if resolved.installer == USER_MANAGED:
        launcher = folder / "python"
        launcher.write_text(interpreter_launcher(resolved.spec.interpreter_path), encoding="utf-8")
        launcher.chmod(0o755)
    elif resolved.installer == "uv":
        (folder / "requirements.lock").write_text(resolved.lock_text, encoding="utf-8")
    else:
        platform = _lock_conda_platform(resolved)
        (folder / "conda-lock.yml").write_text(resolved.lock_text, encoding="utf-8")
        (folder / "pip-requirements.txt").write_text(
            pip_requirements_from_conda_lock(resolved.lock_text, platform), encoding="utf-8")
    return folder


def interpreter_launcher(interpreter: str | None) -> str:
    """The ``/opt/amlocal/bin/python`` script of a user-managed image: it runs ``interpreter``
    (an absolute path as is; a name is looked up on PATH past the launcher's own folder, and
    ``python`` falls back to ``python3``, which is all some base images have)."""
    interpreter = (interpreter or "python").strip() or "python"
    quoted = "'" + interpreter.replace("'", "'\\''") + "'"
    if interpreter.startswith("/"):
        return f"#!/bin/sh\nexec {quoted} \"$@\"\n"
    names = f"{quoted} python3" if interpreter == "python" else quoted
    return ("#!/bin/sh\n"
            "# amlocal: the environment's interpreter (user-managed dependencies)\n"
            f"for name in {names}; do\n"
            "  old_ifs=$IFS; IFS=:\n"
            "  for dir in $PATH; do\n"
            "    if [ \"$dir\" != /opt/amlocal/bin ] && [ -x \"$dir/$name\" ]; then\n"
            "      IFS=$old_ifs; exec \"$dir/$name\" \"$@\"\n"
            "    fi\n"
            "  done\n"
            "  IFS=$old_ifs\n"
            "done\n"
            f"echo \"amlocal: interpreter {interpreter} not found on PATH in this image\" >&2\n"
            "exit 127\n")


def build_log_path(resolved: ResolvedEnvironment) -> Path:
    return _settings.current().build_logs / f"{resolved.digest}.log"


def build_report_path(resolved: ResolvedEnvironment) -> Path:
    return _settings.current().build_logs / f"{resolved.digest}.json"


def last_build_report(resolved: ResolvedEnvironment) -> BuildReport | None:
    """How this AMLOCAL_HOME last built ``resolved.image`` (None when it never did)."""
    try:
        return BuildReport.from_dict(json.loads(build_report_path(resolved).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def use_buildkit(client) -> bool:
    """Build with BuildKit unless ``$AMLOCAL_BUILDKIT`` is ``0`` or the engine has none."""
    if os.environ.get("AMLOCAL_BUILDKIT", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return buildkit.supported(client)


def ensure_image(resolved: ResolvedEnvironment, log: Log = print) -> bool:
    """Build ``resolved.image`` unless it exists; True when it built.

    Only one process builds a given digest at a time (file lock). Every build line goes to
    :func:`build_log_path`, the step times to :func:`build_report_path`; the terminal shows a
    spinner with the last line (plain lines through ``log`` when stdout is not a TTY). Builds
    with BuildKit where the engine has it (uv's download cache then persists across builds in a
    cache mount), else with the legacy builder. Raises EnvironmentBuildError naming the package
    that failed and the build log path; DockerUnavailableError when no engine answers.
    """
    if not resolved.base_image:
        raise EnvironmentBuildError(f"environment '{resolved.spec.name}' was locked for this "
                                    f"machine (local compute), not for a base image")
    client = docker_client()
    if _get_image(client, resolved.image) is not None:
        return False
    from filelock import FileLock
    settings = _settings.current()
    settings.locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.locks / f"build-{resolved.digest[:32]}.filelock")):
        if _get_image(client, resolved.image) is not None:
            return False
        _build(client, resolved, log)
    return True


def _build(client, resolved: ResolvedEnvironment, log: Log) -> None:
    import docker
    path = build_log_path(resolved)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = resolved.spec.name
    log(f"building image {resolved.image} for environment '{name}' (log: {path})")
    status = None
    if sys.stdout.isatty():
        from rich.console import Console
        status = Console().status(f"building {resolved.image}")
        status.start()

    def show(line: str) -> None:
        line = line.rstrip()
        if not line:
            return
        if status is not None:
            status.update(f"building {resolved.image}: {line[:100]}")
        else:
            log(f"  {line}")

    started = time.perf_counter()
    labels = {"amlocal.digest": resolved.digest, "amlocal.environment": name}
    try:
        with tempfile.TemporaryDirectory(prefix="amlocal-build-") as ctx, \
                open(path, "w", encoding="utf-8") as out:
            pending = [""]

            def write(text: str) -> None:
                text = _ANSI.sub("", text)
                if not text:
                    return
                out.write(text)
                out.flush()
                *complete, pending[0] = (pending[0] + text).split("\n")
                for line in complete:
                    show(line)

            error, steps, builder = None, (), "legacy"
            try:
                if use_buildkit(client):
                    write_context(resolved, ctx, buildkit=True)
                    out.write(Path(ctx, "Dockerfile").read_text() + "-" * 72 + "\n")
                    try:
                        progress = buildkit.build(client, ctx, tag=resolved.image, labels=labels,
                                                  write=write)
                        error, steps = progress.error or None, progress.report()
                        builder = "buildkit"
                    except buildkit.BuildKitUnavailable as exc:
                        out.write(f"BuildKit refused the build ({exc}); building it with the "
                                  f"legacy builder\n")
                if builder == "legacy":
                    write_context(resolved, ctx)
                    out.write(Path(ctx, "Dockerfile").read_text() + "-" * 72 + "\n")
                    error = _legacy_build(client, resolved, ctx, labels, write)
            except docker.errors.APIError as exc:
                error = str(exc)
                out.write(error + "\n")
            except Exception as exc:  # noqa: BLE001 - the engine went away mid-build
                unreachable = translate(exc, f"building image {resolved.image}")
                if unreachable is None:
                    raise
                out.write(str(unreachable) + "\n")
                raise unreachable from None
            show(pending[0])
    finally:
        if status is not None:
            status.stop()
    if error is not None:
        raise build_failure(resolved, path.read_text(encoding="utf-8", errors="replace"), path)
    report = BuildReport(image=resolved.image, digest=resolved.digest, builder=builder,
                         seconds=round(time.perf_counter() - started, 3), steps=steps)
    write_atomic(build_report_path(resolved), json.dumps(report.to_dict(), indent=1) + "\n")
    log(f"built image {resolved.image}")


def _legacy_build(client, resolved: ResolvedEnvironment, ctx: str, labels: dict,
                  write) -> str | None:
    """The legacy builder (engines without BuildKit); the build's error text or None."""
    error = None
    stream = client.api.build(path=ctx, tag=resolved.image, decode=True, rm=True, forcerm=True,
                              pull=False, labels=labels)
    for chunk in stream:
        text = chunk.get("stream") or chunk.get("status") or ""
        if "error" in chunk:
            error = chunk.get("error") or "build failed"
            text = "\n" + error + "\n"
        write(text)
    return error


_FAILED_PACKAGE = [
    # uv
    re.compile(r"Failed to (?:download|build|install|fetch|prepare|read|extract|unzip)"
               r"[^`\n]*`([^`]+)`"),
    re.compile(r"[Hh]ash mismatch for `?([^`\s:]+)"),
    # pip (installing uv itself; the conda image's pip entries)
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES[^\n]*\n\s+([A-Za-z0-9][\w.-]*)"),
    # micromamba: a package file named in an error line, or an unsatisfiable request
    re.compile(r"(?i)(?:error|mismatch|fail)[^\n]*?/([A-Za-z0-9_][\w.-]*?)-\d[\w.]*-[\w.]+"
               r"\.(?:conda|tar\.bz2)"),
    re.compile(r"nothing provides (?:requested )?([A-Za-z0-9_][\w.-]*)"),
]


def failed_packages(log_text: str) -> list[str]:
    """Package names a build log blames, in order of appearance."""
    found: list[str] = []
    for pattern in _FAILED_PACKAGE:
        for m in pattern.finditer(log_text):
            name = m.group(1).strip("`'\":,")
            if name and name not in found:
                found.append(name)
        if found:
            break
    return found


def build_failure(resolved: ResolvedEnvironment, log_text: str, path) -> EnvironmentBuildError:
    names = failed_packages(log_text)
    what = (f"package(s) {', '.join(names)} could not be installed" if names
            else "the image build failed")
    interesting = [ln for ln in log_text.splitlines()
                   if re.search(r"error|fail|mismatch|not found|cannot|could not|×|╰─▶|caused by",
                                ln, re.I)]
    excerpt = "\n".join("    " + ln.rstrip() for ln in interesting[-12:])
    return EnvironmentBuildError(
        f"could not build the image for environment '{resolved.spec.name}': {what}.\n{excerpt}\n"
        f"Full build log: {path}")
