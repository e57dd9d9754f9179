"""docker-py's errors turned into amlocal's: no ``docker.errors.*`` or ``requests`` exception
leaves the compute package.

Every call into docker-py in :mod:`amlocal.compute` runs inside :func:`docker_errors`, which names
what was being done. An engine that cannot be reached (a socket that does not exist, a refused or
dropped connection) becomes :class:`~amlocal.errors.DockerUnavailableError`; a failed image build
:class:`~amlocal.errors.EnvironmentBuildError`; everything else the engine refuses (a missing
image or container, a bad mount, a port in use, a timeout) :class:`~amlocal.errors.ComputeError`.
Each message says what failed, the engine's own words, and the fix.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from amlocal.errors import (AmlocalError, ComputeError, DockerUnavailableError,
                            EnvironmentBuildError)

DETAIL_LIMIT = 300
# docker-py's words when it cannot even ask the engine for its API version
_NO_ENGINE = ("Error while fetching server API version", "Connection aborted",
              "Connection refused", "No such file or directory")


def detail(exc: BaseException) -> str:
    """The first line of an exception's text (the engine's explanation for an APIError)."""
    text = str(getattr(exc, "explanation", None) or exc or "").strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:DETAIL_LIMIT]


def _is_docker_error(exc: BaseException) -> bool:
    import docker
    import requests
    import urllib3
    return isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException,
                            urllib3.exceptions.HTTPError, ConnectionError))


def translate(exc: BaseException, what: str, fix: str = "") -> AmlocalError | None:
    """The amlocal error for docker-py's (or requests') ``exc`` raised while doing ``what``;
    None when ``exc`` is not one of theirs (it is then raised as it is)."""
    if isinstance(exc, AmlocalError) or not _is_docker_error(exc):
        return None
    import docker
    import requests
    import urllib3
    why = detail(exc)
    hint = f" {fix}" if fix else ""
    # a slow answer (not an unreachable engine); over a Unix socket it arrives as ConnectionError
    timed_out = (isinstance(exc, requests.exceptions.Timeout)
                 and not isinstance(exc, requests.exceptions.ConnectTimeout)
                 or "read timed out" in why.lower())
    if isinstance(exc, (requests.exceptions.ConnectionError, urllib3.exceptions.ProtocolError,
                        ConnectionError)) and not timed_out:
        return DockerUnavailableError(f"{what}: {why}")
    if (isinstance(exc, docker.errors.DockerException)
            and not isinstance(exc, docker.errors.APIError)
            and str(exc).startswith(_NO_ENGINE)):
        return DockerUnavailableError(f"{what}: {why}")
    if isinstance(exc, docker.errors.BuildError):
        return EnvironmentBuildError(f"{what}: the image build failed: {why}.{hint}")
    if isinstance(exc, docker.errors.ImageNotFound):
        return ComputeError(f"{what}: the image does not exist on this Docker engine ({why})."
                            + (hint or " Prepare the environment again (its image is built "
                                       "when missing) or check the image name."))
    if isinstance(exc, docker.errors.NotFound):
        return ComputeError(f"{what}: it does not exist on this Docker engine ({why})."
                            + (hint or " It was removed in the meantime; start it again."))
    if isinstance(exc, docker.errors.ContainerError):
        stderr = (exc.stderr or b"").decode("utf-8", "replace").strip()[-DETAIL_LIMIT:]
        return ComputeError(f"{what}: the command exited with status {exc.exit_status}"
                            + (f": {stderr}" if stderr else "") + "." + hint)
    if isinstance(exc, docker.errors.APIError):
        return ComputeError(f"{what}: the Docker engine refused it ({why})."
                            + (hint or " Fix what the engine names (a mount source that does "
                                       "not exist, a port in use ...) and try again."))
    if timed_out:
        return ComputeError(f"{what}: the Docker engine did not answer in time ({why})."
                            + (hint or " Check that the engine is not overloaded, then retry."))
    return ComputeError(f"{what}: {type(exc).__name__}: {why}.{hint}")


@contextmanager
def docker_errors(what: str, fix: str = "") -> Iterator[None]:
    """Run a block of docker-py calls; their errors leave it as amlocal errors (see
    :func:`translate`). ``what`` names the action ("starting the container of step 'train'"),
    ``fix`` replaces the generic advice."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - translated below, or raised unchanged
        error = translate(exc, what, fix)
        if error is None:
            raise
        raise error from None
