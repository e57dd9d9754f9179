"""The run service for steps on a cluster's nodes: a run's service also listening on TCP with
TLS, started once per run and address when the first such step starts (the runner's
:class:`RemoteListeners`). A node elsewhere cannot reach the Unix socket local steps use."""
from __future__ import annotations

import threading
from typing import Callable

from ..errors import UserErrorException
from .graph import Node


class RemoteListeners:
    """``(URL, CA certificate)`` of the run service for steps on cluster nodes, per address."""

    def __init__(self):
        self._urls: dict = {}          # (host, port) -> (https URL, CA)
        self._lock = threading.Lock()

    def url_for(self, node: Node, *, store, workspace, service, home,
                log: Callable[[str, str], None]) -> tuple[str, str]:
        """The service at the target's ``service_address`` ("IP[:PORT]"), else at this machine's
        address as Ray reports it, on a free port; its certificate is the home's
        (:mod:`amlocal.runservice._tls`). Raises UserErrorException before any container starts
        for a sandboxed step without network (it could not reach the service)."""
        from ..runservice._tls import node_address, service_tls, split_address
        if node.sandbox is not None and not node.sandbox.get("network"):
            raise UserErrorException(
                f"step '{node.name}' is sandboxed without network, but its compute target "
                f"'{node.compute.name}' runs it on a cluster node, which reaches the run service "
                "over TCP: allow the sandbox network (sandbox={'network': True}) or run the "
                "step on a docker target")
        info = store.get_compute_target(workspace.id, node.compute.name)
        configured = (info.config if info is not None else {}).get("service_address")
        host, port = split_address(configured) if configured else (node_address(), 0)
        with self._lock:
            if (host, port) not in self._urls:
                tls = service_tls(home, [host])
                url = service.serve_tcp(host, port, tls=tls.server_context())
                self._urls[(host, port)] = (url, tls.ca_pem)
                log("pipeline", f"the run service also listens at {url} (TLS) for steps on "
                                "cluster nodes")
            return self._urls[(host, port)]
