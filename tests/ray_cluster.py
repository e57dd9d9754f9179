"""Ray clusters for tests: ``ray.cluster_utils.Cluster`` on this machine (a head plus more nodes,
each a process tree of its own; about 10 s for two nodes), through the ``ray_clusters`` fixture
of tests/conftest.py.

``running(nodes, node_dir=None)`` is a context manager yielding the Cluster: ``nodes`` is one
dict of ``Cluster.add_node`` arguments per node, the first the head; every node needs an
explicit ``memory`` (two nodes on one host otherwise each report most of its memory).
``NODE_INFO`` is a module a step can import to learn the Ray node it runs on.
``node_dir`` sets ``AMLOCAL_RAY_NODE_DIR`` for the nodes' processes (the Ray backend's folder on
each node). At the end this process is disconnected, the Ray backend forgets its connection, and
the cluster is shut down. Without the ``ray`` package the test skips, or FAILS under ``CI``.

The tests folder is not a package: conftest imports this module by its path.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

GIB = 1024 ** 3

# A module for a step's source folder (``nodeinfo.py``): ``node_id()`` is the Ray node id the
# step landed on. The Ray backend bind-mounts the working folder from
# ``<node folder>/steps/<ray node id>/...`` on that node, and the container's mount table names it.
NODE_INFO = """
import re


def node_id():
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        if fields[4] == "/amlocal/wd":
            found = re.search(r"steps/([0-9a-f]{16,})/", fields[3])
            return found.group(1) if found else "?"
    return "?"
"""


def need_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the ray package for the Ray tests: {exc}")
        pytest.skip(f"ray is not installed ({exc}): pip install ray")


def node(cpus: float = 1, memory: int = GIB, **resources) -> dict:
    """``Cluster.add_node`` arguments: ``cpus`` CPUs, ``memory`` bytes, custom ``resources``."""
    return {"num_cpus": cpus, "memory": memory, **({"resources": resources} if resources else {})}


@contextmanager
def running(nodes: list[dict], node_dir=None):
    need_ray()
    import ray
    from ray.cluster_utils import Cluster
    from amlocal.compute import ray as ray_backend
    previous = os.environ.get("AMLOCAL_RAY_NODE_DIR")
    if node_dir is not None:
        os.environ["AMLOCAL_RAY_NODE_DIR"] = str(node_dir)   # the nodes' processes inherit it
    cluster = Cluster(initialize_head=True, head_node_args=nodes[0])
    try:
        for more in nodes[1:]:
            cluster.add_node(**more)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        ray_backend._connected_to = None
        ray_backend._remote_cache.clear()
        cluster.shutdown()
        if node_dir is not None:
            if previous is None:
                os.environ.pop("AMLOCAL_RAY_NODE_DIR", None)
            else:
                os.environ["AMLOCAL_RAY_NODE_DIR"] = previous
