"""Long-running service containers (deployed models, and the warm workers of pipeline web
services): start, find, read logs, remove.

A service container keeps running after the deploying process exits, until it is deleted. It is
found again by its labels (``amlocal.webservice=<name>``, ``amlocal.workspace_id=<id>``; a
pipeline service's workers also carry ``amlocal.webservice_role=worker``), so no state is kept
outside the engine. Its port is published on 127.0.0.1 only.
"""
from __future__ import annotations

import os

from .base import Mount


def start_service(image: str, command: list[str], *, mounts: list[Mount], env: dict,
                  container_port: int, host_port: int | None, labels: dict, workdir: str) -> dict:
    """Start the container detached and return ``{"id", "port"}`` (the published host port)."""
    from docker.types import Mount as DockerMount
    from .images import docker_client
    client = docker_client()
    container = client.containers.run(
        image, command=command, detach=True, labels=labels, environment=env, working_dir=workdir,
        mounts=[DockerMount(target=m.target, source=os.path.abspath(m.source), type="bind",
                            read_only=m.read_only) for m in mounts],
        ports={f"{container_port}/tcp": ("127.0.0.1", host_port)}, init=True,
        user=f"{os.getuid()}:{os.getgid()}")
    container.reload()
    binding = container.attrs["NetworkSettings"]["Ports"][f"{container_port}/tcp"][0]
    return {"id": container.id, "port": int(binding["HostPort"])}


def find_services(labels: dict) -> list[dict]:
    """Service containers carrying all ``labels``: ``{"id", "port", "status", "labels"}``."""
    from .images import docker_client
    client = docker_client()
    found = []
    for c in client.containers.list(all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]}):
        ports = (c.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        published = next((int(b[0]["HostPort"]) for b in ports.values() if b), None)
        found.append({"id": c.id, "port": published, "status": c.status, "labels": c.labels})
    return found


def service_logs(container_id: str) -> str:
    from .images import docker_client
    return docker_client().containers.get(container_id).logs().decode("utf-8", "replace")


def remove_service(container_id: str) -> None:
    import docker
    from .images import docker_client
    try:
        docker_client().containers.get(container_id).remove(force=True)
    except docker.errors.NotFound:
        pass


def remove_services(labels: dict) -> int:
    """Remove every container carrying all ``labels`` (e.g. a pipeline service's workers);
    returns how many were removed."""
    found = find_services(labels)
    for f in found:
        remove_service(f["id"])
    return len(found)


def service_status(container_id: str) -> str:
    """The container's status (``running``, ``exited`` ...), ``removed`` when it is gone."""
    import docker
    from .images import docker_client
    try:
        return docker_client().containers.get(container_id).status
    except docker.errors.NotFound:
        return "removed"
