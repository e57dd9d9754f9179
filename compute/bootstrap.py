"""The offline base image: Debian from its mirror with ``debootstrap``, imported into the engine
as :data:`amlocal.compute.images.OFFLINE_BASE` (``amlocal env bootstrap-base``), for machines
where no registry answers."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from amlocal.errors import EnvironmentBuildError

from .docker_errors import docker_errors
from .images import DEFAULT_BASE, OFFLINE_BASE, _get_image, docker_client

Log = Callable[[str], None]

BOOTSTRAP_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"


def bootstrap_base(name: str = OFFLINE_BASE, suite: str = "bookworm",
                   log: Log = print, force: bool = False,
                   mirror: str | None = None) -> str:
    """Build base image ``name`` offline from Debian ``suite`` with debootstrap (no registry
    needed, only the Debian mirror); return ``name`` at once when it exists and not ``force``.

    Installs debootstrap with apt-get when missing and running as root on Debian. Raises
    EnvironmentBuildError (debootstrap missing or failing, not root, import failing) and
    DockerUnavailableError.
    """
    client = docker_client()
    if not force and _get_image(client, name) is not None:
        return name
    tool = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.path.exists(p)), None)
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if tool is None:
        if is_root and os.path.exists("/etc/debian_version") and shutil.which("apt-get"):
            log("installing debootstrap with apt-get ...")
            proc = subprocess.run(["apt-get", "install", "-y", "debootstrap"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                subprocess.run(["apt-get", "update"], capture_output=True)
                proc = subprocess.run(["apt-get", "install", "-y", "debootstrap"],
                                      capture_output=True, text=True)
            tool = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
            if proc.returncode != 0 or not os.path.exists(tool):
                raise EnvironmentBuildError(
                    f"could not install debootstrap: {proc.stderr.strip()[-500:]}")
        else:
            raise EnvironmentBuildError(
                "debootstrap is needed to build the offline base image: install it "
                "(`sudo apt-get install debootstrap`) and run `sudo amlocal env bootstrap-base`, "
                f"or make a registry reachable so {DEFAULT_BASE} can be pulled.")
    if not is_root:
        raise EnvironmentBuildError("building the offline base image needs root (debootstrap): "
                                    "run `sudo amlocal env bootstrap-base`.")
    root = tempfile.mkdtemp(prefix="amlocal-bootstrap-", dir=os.environ.get("TMPDIR") or "/var/tmp")
    try:
        cmd = [tool, "--variant=minbase", f"--include={BOOTSTRAP_PACKAGES}", suite, root]
        if mirror:
            cmd.append(mirror)
        log(f"bootstrapping Debian {suite} into {root} (about a minute) ...")
        _run_logged(cmd, log, quiet=("I: Retrieving", "I: Validating", "I: Extracting",
                                     "I: Unpacking", "I: Configuring"))
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in Path(root, junk).glob("*"):
                if p.is_file():
                    p.unlink()
        versions = sorted(p.name[len("python"):] for p in Path(root, "usr/bin").glob("python3.*")
                          if re.fullmatch(r"python3\.\d+", p.name))
        python = versions[-1] if versions else "3"
        log(f"importing {root} as {name} (Python {python}) ...")
        repo, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", root, "-c", "."],
                               stdout=subprocess.PIPE)

        def chunks():
            while True:
                block = tar.stdout.read(1 << 20)
                if not block:
                    return
                yield block

        try:
            with docker_errors(f"importing {root} as image {name}"):
                client.api.import_image(
                    src=chunks(), repository=repo, tag=tag, stream_src=True,
                    changes=["ENV LANG=C.UTF-8", f"LABEL amlocal.python={python}",
                             f"LABEL amlocal.suite={suite}", 'CMD ["python3"]'])
        finally:
            tar.stdout.close()
            tar.wait()
        if _get_image(client, name) is None:
            raise EnvironmentBuildError(f"docker import did not create {name}")
        log(f"built base image {name}")
        return name
    finally:
        _remove_root(root, log)


def _run_logged(cmd: list[str], log: Log, quiet=()) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-20:]
        if line and not line.startswith(quiet):
            log(f"  {line}")
    if proc.wait() != 0:
        raise EnvironmentBuildError(f"{os.path.basename(cmd[0])} failed (exit {proc.returncode}):\n"
                                    + "\n".join(tail))


def _remove_root(root: str, log: Log) -> None:
    """Remove a debootstrap folder, unmounting anything left mounted below it first (never
    delete through a mounted /proc)."""
    def mounted() -> list[str]:
        try:
            with open("/proc/mounts") as f:
                points = [ln.split()[1] for ln in f]
        except OSError:
            return []
        return [p for p in points if p == root or p.startswith(root + "/")]

    for point in sorted(mounted(), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    if mounted():
        log(f"warning: {root} still has mounts; leaving it in place")
        return
    shutil.rmtree(root, ignore_errors=True)
