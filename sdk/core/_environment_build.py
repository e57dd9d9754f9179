"""Building an Environment's image on this machine: ``Environment.build`` (in the background,
with Azure's :class:`ImageBuildDetails` to follow it), ``build_local``, ``get_image_details``,
and the export behind ``from_existing_conda_environment``.

The image is the one steps of that environment run in: locked and built by ``amlocal.compute``
and tagged by the lock's digest, so a built environment starts its steps at once.
Only the standard library is imported at module level (the module is mounted into steps).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Iterator

from ..errors import UserErrorException

RUNNING, SUCCEEDED, FAILED = "Running", "Succeeded", "Failed"


class ImageBuildDetails:
    """An image build started by :meth:`Environment.build`: ``status`` ("Running",
    "Succeeded" or "Failed"), ``get_log()`` and ``wait_for_completion(show_output=True)``, as
    Azure's. ``image`` is the built image's tag and ``error`` the failure, if any."""

    def __init__(self, environment, _start: bool = True):
        self.environment = environment
        self.image: str | None = None
        self.error: BaseException | None = None
        self.log_url = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._build, daemon=True,
                                        name=f"amlocal-build-{environment.name}")
        if _start:
            self._thread.start()

    def _log(self, line: str) -> None:
        with self._lock:
            self._lines.extend(str(line).splitlines() or [""])

    def _build(self) -> None:
        try:
            self.image = build_image(self.environment, self._log)
        except BaseException as exc:  # noqa: BLE001 - kept and reported through status/error
            self.error = exc
            self._log(f"{type(exc).__name__}: {exc}")

    @property
    def status(self) -> str:
        if self._thread.is_alive():
            return RUNNING
        return FAILED if self.error is not None else SUCCEEDED

    def get_log(self) -> str:
        """The build's output so far (the full build log is also under
        ``AMLOCAL_HOME/build-logs``)."""
        with self._lock:
            return "\n".join(self._lines)

    def wait_for_completion(self, show_output: bool = True) -> "ImageBuildDetails":
        """Wait for the build to end, printing its output with ``show_output``; returns self.
        A failed build does not raise (as on Azure): check ``status`` and ``error``."""
        printed = 0
        while True:
            alive = self._thread.is_alive()
            with self._lock:
                new, printed = self._lines[printed:], len(self._lines)
            if show_output:
                for line in new:
                    print(line, flush=True)
            if not alive:
                break
            time.sleep(0.5)
        if show_output:
            print(f"Image Build Status: {self.status}\n", flush=True)
        return self

    def __repr__(self) -> str:
        return f"ImageBuildDetails(environment={self.environment.name!r}, status={self.status!r})"


def build_image(environment, log) -> str:
    """Lock the environment and build its image unless it exists; return the image tag."""
    from ..compute.environments import resolve
    from ..compute.images import ensure_image
    resolved = resolve(environment._to_spec(), log=log)
    built = ensure_image(resolved, log=log)
    log(f"image {resolved.image} " + ("built" if built else "exists already"))
    return resolved.image


def build(environment, workspace, image_build_compute=None) -> ImageBuildDetails:
    """``Environment.build``: register the environment (as Azure does), then build its image
    in the background."""
    if environment.version is None:
        print("Building a non-registered environment is not supported. Registering environment.",
              file=sys.stderr)
    if image_build_compute is not None:
        print(f"amlocal: image_build_compute {image_build_compute!r} is not used: the image is "
              "built by this machine's Docker engine", file=sys.stderr)
    registered = environment.register(workspace)
    return ImageBuildDetails(registered)


def build_local(environment, workspace, platform=None, **kwargs) -> None:
    """``Environment.build_local``: build the registered environment here, printing the
    output. ``useDocker=True`` (default: the environment's ``docker.enabled``) builds its
    image; otherwise the virtualenv a host run of it uses (Azure builds a conda environment).
    ``pushImageToWorkspaceAcr`` has no registry to push to: the image stays in this engine."""
    if environment.name is None or environment.version is None or \
            workspace._store.get_environment(workspace._id, environment.name,
                                             environment.version) is None:
        raise UserErrorException(f"Environment '{environment.name}' is not registered: "
                                 "register it first, env = env.register(ws), then build_local")
    unknown = set(kwargs) - {"useDocker", "pushImageToWorkspaceAcr"}
    if unknown:
        raise UserErrorException(f"build_local got unknown arguments {sorted(unknown)}; it takes "
                                 "useDocker=True/False and pushImageToWorkspaceAcr=True/False")
    if platform not in (None, "Linux"):
        raise UserErrorException(f"build_local(platform={platform!r}): amlocal builds Linux "
                                 "environments only (for this machine's Docker engine)")
    env = type(environment).get(workspace, environment.name, environment.version)
    if kwargs.get("pushImageToWorkspaceAcr"):
        print("amlocal: pushImageToWorkspaceAcr: a local workspace has no container registry; "
              "the image stays in this machine's Docker engine, where steps use it")
    if kwargs.get("useDocker", bool(env.docker.enabled)):
        build_image(env, print)
        return
    from ..compute.local import LocalBackend
    resolved = LocalBackend().prepare(env._to_spec(), log=print)
    print(f"environment '{env.name}' is ready on this machine ({resolved.installer})")


def get_image_details(environment, workspace):
    """``Environment.get_image_details``: the environment's image (its tag, whether it is
    built, its Dockerfile and interpreter), as Azure's DockerImageDetails dict. Locks the
    environment if it was never locked; builds nothing."""
    from ..compute.environments import USER_MANAGED, resolve
    from ..compute.images import _get_image, docker_client, render_dockerfile
    from ._environment_extras import DockerImageDetails
    resolved = resolve(environment._to_spec(), log=lambda line: None, pull=False)
    exists = _get_image(docker_client(), resolved.image) is not None
    interpreter = ("/opt/amlocal/bin/python" if resolved.installer == USER_MANAGED
                   else "/opt/env/bin/python")
    return DockerImageDetails({
        "imageExistsInRegistry": exists,
        "dockerImage": {"name": resolved.image, "registry": {"address": None}},
        "pythonEnvironment": {"interpreterPath": interpreter,
                              "condaEnvironmentPath": "/opt/env"
                              if resolved.installer != USER_MANAGED else None},
        "ingredients": {"dockerfile": render_dockerfile(resolved, with_ca=False),
                        "baseImage": resolved.base_image, "digest": resolved.digest},
    })


@contextlib.contextmanager
def exported_conda_environment(conda_environment_name: str) -> Iterator[str]:
    """For ``Environment.from_existing_conda_environment``: the path of a temporary file holding
    what ``conda env export --no-builds`` says of the conda environment (removed afterwards).
    Raises UserErrorException when no conda executable answers or the conda environment does
    not exist (Azure returns None)."""
    conda = shutil.which("conda") or shutil.which("mamba") or shutil.which("micromamba")
    if conda is None:
        raise UserErrorException(
            "from_existing_conda_environment needs a conda executable (conda, mamba or "
            "micromamba) on PATH, and none was found; export the environment elsewhere with "
            f"`conda env export --no-builds --name {conda_environment_name} > env.yml` and use "
            "Environment.from_conda_specification(name, 'env.yml')")
    print(f"Exporting conda specifications for existing conda environment: {conda_environment_name}")
    done = subprocess.run([conda, "env", "export", "--no-builds", "--name", conda_environment_name],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise UserErrorException(
            f"`{conda} env export --name {conda_environment_name}` failed (exit code "
            f"{done.returncode}): {done.stderr.strip()[-500:]}. List the environments with "
            "`conda env list`")
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as spec:
        spec.write(done.stdout)
    try:
        yield spec.name
    finally:
        os.unlink(spec.name)
