"""Long-running service containers (deployed models, and the warm workers of pipeline web
services): find, read logs, remove. They are started by :meth:`DockerBackend.serve
<amlocal.compute.docker.DockerBackend.serve>`, which sits above this module (the backend's
``remove_labelled`` uses :func:`remove_services`).

A service container keeps running after the deploying process exits, until it is deleted. It is
found again by its labels (``amlocal.webservice=<name>``, ``amlocal.workspace_id=<id>``; a
pipeline service's workers also carry ``amlocal.webservice_role=worker``), so no state is kept
outside the engine. Its port is published on 127.0.0.1 only.

docker-py's errors never leave these functions: DockerUnavailableError when no engine answers,
ComputeError for the rest (:mod:`amlocal.compute.docker_errors`).
"""
from __future__ import annotations

from .docker_errors import docker_errors


def find_services(labels: dict) -> list[dict]:
    """Service containers carrying all ``labels``: ``{"id", "port", "status", "labels"}``.
    Raises DockerUnavailableError, ComputeError."""
    from .images import docker_client
    client = docker_client()
    found = []
    with docker_errors(f"listing the containers labelled {labels}"):
        for c in client.containers.list(all=True, filters={"label": [f"{k}={v}" for k, v in
                                                                     labels.items()]}):
            ports = (c.attrs.get("NetworkSettings") or {}).get("Ports") or {}
            published = next((int(b[0]["HostPort"]) for b in ports.values() if b), None)
            found.append({"id": c.id, "port": published, "status": c.status, "labels": c.labels})
    return found


def service_logs(container_id: str) -> str:
    """The container's whole log (stdout and stderr). Raises ComputeError when the container
    does not exist, DockerUnavailableError."""
    from .images import docker_client
    client = docker_client()
    with docker_errors(f"reading the log of container {container_id[:12]}",
                       "It was removed (deleted, or its service redeployed)."):
        return client.containers.get(container_id).logs().decode("utf-8", "replace")


def remove_service(container_id: str) -> None:
    """Stop and remove the container; nothing happens when it is gone already. Raises
    DockerUnavailableError, ComputeError."""
    import docker

    from .images import docker_client
    client = docker_client()
    with docker_errors(f"removing container {container_id[:12]}"):
        try:
            client.containers.get(container_id).remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409 or "in progress" not in str(exc):
                raise                    # 409 "removal already in progress": it goes anyway


def remove_services(labels: dict) -> int:
    """Remove every container carrying all ``labels`` (e.g. a pipeline service's workers);
    returns how many were removed. Raises DockerUnavailableError, ComputeError."""
    found = find_services(labels)
    for f in found:
        remove_service(f["id"])
    return len(found)


def service_status(container_id: str) -> str:
    """The container's status (``running``, ``exited`` ...), ``removed`` when it is gone.
    Raises DockerUnavailableError, ComputeError."""
    import docker

    from .images import docker_client
    client = docker_client()
    with docker_errors(f"reading the status of container {container_id[:12]}"):
        try:
            return client.containers.get(container_id).status
        except docker.errors.NotFound:
            return "removed"
