"""The container a step gets on the ``docker`` backend, decided in one place.

:func:`container_options` turns a :class:`StepSpec` into the options of a container (mounts,
environment, labels, user, working directory, the sandbox); the backend hands them to docker-py
(:func:`docker_py_kwargs`) for a step or a service, or to the ``docker run`` command line
(:func:`cli_arguments`) for an interactive shell, so the three never differ.

Rules (see :mod:`amlocal.compute.docker`): the working directory read-write at :data:`WORKDIR`;
every mount a bind mount; the label ``amlocal.run_id``; the caller's uid:gid with ``HOME=/tmp``
unless the step sets it (or, sandboxed while the caller is root, ``nobody``); and for a sandboxed
step no network unless ``sandbox["network"]``, a read-only root with a tmpfs at ``/tmp``, every
capability dropped, ``no-new-privileges``, a process limit, the memory and CPU limits asked for,
``HOME=/tmp`` and ``PYTHONDONTWRITEBYTECODE=1``.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field

from .base import SERVICE_DIR, WORKDIR, Mount, StepSpec

NOBODY = "65534:65534"          # who a sandboxed step runs as when the caller is root
SANDBOX_TMPFS = "rw,nosuid,nodev,size=256m,mode=1777"
SANDBOX_PIDS = 1024


@dataclass(frozen=True)
class SandboxOptions:
    """What confines a sandboxed container (None fields: not limited)."""

    network: bool = False
    memory: str | None = None          # docker's size syntax, e.g. "512m"
    nano_cpus: int | None = None


@dataclass(frozen=True)
class ContainerOptions:
    """Everything about a step's container except its image and command."""

    mounts: tuple[Mount, ...]           # the working directory first
    environment: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    user: str | None = None             # "uid:gid"; None on a system without uids
    working_dir: str = WORKDIR
    sandbox: SandboxOptions | None = None


def container_user(sandboxed: bool) -> tuple[int, int]:
    """The uid and gid a step's container runs as: the caller's, or nobody's for a sandboxed
    step when the caller is root."""
    if sandboxed and os.getuid() == 0:
        uid, gid = NOBODY.split(":")
        return int(uid), int(gid)
    return os.getuid(), os.getgid()


def container_options(step: StepSpec) -> ContainerOptions:
    """The container options of ``step`` (the module docstring's rules). For a sandboxed step
    run by root, its working directory and writable mounts are opened up on the host for the
    ``nobody`` user it runs as. Raises ValueError for a sandbox option docker cannot take."""
    mounts = (Mount(os.path.abspath(step.working_dir), WORKDIR, read_only=False),
              *(Mount(os.path.abspath(m.source), m.target, read_only=bool(m.read_only))
                for m in step.mounts))
    environment = {str(k): str(v) for k, v in (step.env or {}).items()}
    labels = {str(k): str(v) for k, v in (step.labels or {}).items()}
    labels.setdefault("amlocal.run_id", step.run_id)
    user = None
    if hasattr(os, "getuid"):
        uid, gid = container_user(step.sandbox is not None)
        user = f"{uid}:{gid}"
        if os.getuid() != 0:
            environment.setdefault("HOME", "/tmp")
    sandbox = None
    if step.sandbox is not None:
        settings = step.sandbox or {}
        cpus = settings.get("cpus")
        try:
            nano_cpus = int(float(cpus) * 1e9) if cpus else None
        except (TypeError, ValueError):
            raise ValueError(f"step '{step.step_name}': sandbox cpus {cpus!r} is not a number "
                             "(e.g. 0.5 or 2)") from None
        sandbox = SandboxOptions(network=bool(settings.get("network")),
                                 memory=str(settings["memory"]) if settings.get("memory") else None,
                                 nano_cpus=nano_cpus)
        environment["HOME"] = "/tmp"
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        if hasattr(os, "getuid") and os.getuid() == 0:
            _open_up(step.working_dir, files=True)
            for m in step.mounts:
                if not m.read_only and m.target != SERVICE_DIR and os.path.isdir(m.source):
                    _open_up(m.source, files=False)
    return ContainerOptions(mounts=mounts, environment=environment, labels=labels, user=user,
                            sandbox=sandbox)


def docker_py_kwargs(options: ContainerOptions) -> dict:
    """``client.containers.run`` keyword arguments for ``options`` (no image, command, detach,
    init or ports)."""
    from docker.types import Mount as DockerMount
    kwargs: dict = {
        "working_dir": options.working_dir,
        "mounts": [DockerMount(target=m.target, source=m.source, type="bind",
                               read_only=m.read_only) for m in options.mounts],
        "environment": dict(options.environment), "labels": dict(options.labels)}
    if options.user:
        kwargs["user"] = options.user
    box = options.sandbox
    if box is not None:
        kwargs.update({"read_only": True, "tmpfs": {"/tmp": SANDBOX_TMPFS}, "cap_drop": ["ALL"],
                       "security_opt": ["no-new-privileges"], "pids_limit": SANDBOX_PIDS})
        if not box.network:
            kwargs["network_mode"] = "none"
        if box.memory:
            kwargs["mem_limit"] = box.memory
        if box.nano_cpus:
            kwargs["nano_cpus"] = box.nano_cpus
    return kwargs


def _mount_flag(m: Mount) -> str:
    fields = ["type=bind", f"source={m.source}", f"target={m.target}"]
    if m.read_only:
        fields.append("readonly")
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)   # docker reads --mount as CSV
    return out.getvalue()


def cli_arguments(options: ContainerOptions) -> tuple[list[str], dict]:
    """``docker run`` flags for ``options`` and the environment variables to pass.

    The variables are not on the command line (where ``ps`` shows them, a run token among
    them): the caller writes them to an ``--env-file`` (:func:`env_file_text`)."""
    flags = ["-w", options.working_dir]
    for m in options.mounts:
        flags += ["--mount", _mount_flag(m)]
    for key, value in options.labels.items():
        flags += ["--label", f"{key}={value}"]
    if options.user:
        flags += ["--user", options.user]
    box = options.sandbox
    if box is not None:
        flags += ["--read-only", "--tmpfs", f"/tmp:{SANDBOX_TMPFS}", "--cap-drop", "ALL",
                  "--security-opt", "no-new-privileges", "--pids-limit", str(SANDBOX_PIDS)]
        if not box.network:
            flags += ["--network", "none"]
        if box.memory:
            flags += ["--memory", box.memory]
        if box.nano_cpus:
            flags += ["--cpus", f"{box.nano_cpus / 1e9:g}"]
    return flags, dict(options.environment)


def env_file_text(environment: dict) -> str:
    """``environment`` as a ``docker run --env-file`` (one ``KEY=VALUE`` a line, taken as is).
    Raises ValueError for a value holding a line break, which that format cannot carry."""
    lines = []
    for key, value in environment.items():
        if "\n" in value or "\r" in value or "\n" in key or "=" in key or not key:
            raise ValueError(f"environment variable {key!r} cannot be passed to an interactive "
                             "shell: its name or value holds a line break or '='")
        lines.append(f"{key}={value}")
    return "".join(line + "\n" for line in lines)


def _open_up(folder: str, *, files: bool) -> None:
    """Make ``folder`` and the folders below it writable by anyone (and, with ``files``, its
    files readable and writable): the step's own copy or fresh output folders, run as nobody."""
    os.chmod(folder, 0o777)
    for root, dirs, names in os.walk(folder):
        for d in dirs:
            if not os.path.islink(os.path.join(root, d)):
                os.chmod(os.path.join(root, d), 0o777)
        if files:
            for n in names:
                path = os.path.join(root, n)
                if not os.path.islink(path):
                    os.chmod(path, os.stat(path).st_mode | 0o666)
