"""A Ray node dying mid-step, on a real cluster of this machine (``ray.cluster_utils.Cluster``:
a head without the ``worker`` resource and two nodes with it; 1 CPU and 1 GiB each). The step's
handle ends with a failure naming the node (or, with ``max_retries``, runs the step again on the
other node), and the container the dead node's task left running is removed by the sweep when a
node comes back; so is the container of a driver killed mid-step, by the next process that
connects. Without ray or Docker these tests skip locally and FAIL under $CI."""
from __future__ import annotations

import threading

import pytest

from amlocal.compute import StepSpec, get_backend

GIB = 1024 ** 3
LABEL = "amlocal.test=ray-node-loss"


@pytest.fixture
def cluster(tmp_path, docker_engine, ray_clusters):
    worker = ray_clusters.node(worker=1)
    try:
        with ray_clusters.running([ray_clusters.node(), worker, worker],
                                  node_dir=tmp_path / "nodes") as cluster:
            yield cluster
    finally:
        for container in docker_engine.containers.list(all=True, filters={"label": LABEL}):
            container.remove(force=True)


def _step(tmp_path, name: str, code: str) -> StepSpec:
    wd = tmp_path / f"wd-{name}"
    wd.mkdir()
    return StepSpec(run_id=f"ray-loss-{name}", step_name=name, command=("python", "-c", code),
                    working_dir=str(wd), labels={"amlocal.test": "ray-node-loss"},
                    resources={"resources": {"worker": 1}})


def _kill_node_of(cluster, node_id: str) -> None:
    (node,) = [n for n in cluster.list_all_nodes() if n.node_id == node_id]
    cluster.remove_node(node)


def _wait(handle, lines, bound: float = 180) -> tuple[int, list]:
    """The rest of the step's lines and its exit status; fails when they are not back within
    ``bound`` seconds."""
    result = []
    waiter = threading.Thread(target=lambda: result.append((list(lines), handle.wait())),
                              daemon=True)
    waiter.start()
    waiter.join(bound)
    assert result, f"the step's handle was still waiting {bound} s after its node died"
    rest, code = result[0]
    return code, rest


SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(600)"
RETRIED = "import time\nprint('up', flush=True)\ntime.sleep(5)\nprint('done')"


def test_a_dead_node_fails_its_step_retries_and_its_container_is_swept(cluster, tmp_path,
                                                                        six_env, docker_engine):
    import ray
    backend = get_backend("ray", address=cluster.address)
    handle = backend.submit(_step(tmp_path, "lost", SLEEPER), six_env)
    lines = handle.lines()
    assert next(lines) == "up"
    dead, address = handle.node_id, handle._copies[0].address
    container = handle.container_id
    _kill_node_of(cluster, dead)
    code, rest = _wait(handle, lines)
    assert code != 0
    assert rest == [f"amlocal: Ray node {address} ({dead[:8]}) died while it ran step 'lost' "
                    f"(NodeDiedError); its containers are removed when it comes back"], rest
    # the engine keeps the dead node's container: an orphan, labelled with its node
    orphans = docker_engine.containers.list(all=True,
                                            filters={"label": f"amlocal.ray.node={dead}"})
    assert [c.id for c in orphans] == [container]

    # a node comes back: the next step sweeps it, and with max_retries a step whose node dies
    # runs again on the other node
    cluster.add_node(num_cpus=1, memory=GIB, resources={"worker": 1})
    cluster.wait_for_nodes()
    retrying = get_backend("ray", address=cluster.address, max_retries=1)
    handle = retrying.submit(_step(tmp_path, "retried", RETRIED), six_env)
    assert not docker_engine.containers.list(all=True,
                                             filters={"label": f"amlocal.ray.node={dead}"})
    lines = handle.lines()
    assert next(lines) == "up"
    first = handle.node_id
    _kill_node_of(cluster, first)
    code, rest = _wait(handle, lines)
    assert code == 0, rest
    assert rest[0].startswith("amlocal: Ray node ") and f"({first[:8]}) died while it ran " \
        "step 'retried'" in rest[0]
    assert rest[1:] == ["amlocal: starting step 'retried' again on another node (retry 1 of 1)",
                        "up", "done"]
    assert handle.node_id not in (first, dead)
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert handle.node_id in alive


DRIVER = r"""
import json, sys, time
from amlocal.compute import ResolvedEnvironment, StepSpec, get_backend
address, env, wd = sys.argv[1], ResolvedEnvironment.from_dict(json.loads(sys.argv[2])), sys.argv[3]
step = StepSpec(run_id="ray-loss-driver", step_name="driver", working_dir=wd,
                command=("python", "-c", "import time\nprint('up', flush=True)\ntime.sleep(600)"),
                labels={"amlocal.test": "ray-node-loss"})
handle = get_backend("ray", address=address).submit(step, env)
print(next(handle.lines()), handle.container_id, flush=True)
time.sleep(600)
"""


def test_containers_of_a_dead_driver_are_swept(cluster, tmp_path, six_env, docker_engine):
    """A driver killed mid-step takes its Ray worker with it, not the container: the next
    process that connects sweeps it (its node is alive, its worker is not)."""
    import json
    import subprocess
    import sys
    import time
    from amlocal.compute import ray as ray_backend
    from amlocal.compute.ray_tasks import _pid_alive
    (tmp_path / "wd").mkdir()
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, cluster.address,
                               json.dumps(six_env.to_dict()), str(tmp_path / "wd")],
                              stdout=subprocess.PIPE, text=True)
    try:
        said, container = driver.stdout.readline().split()
        assert said == "up"
    finally:
        driver.kill()
        driver.wait()
    labels = docker_engine.containers.get(container).labels
    worker = int(labels["amlocal.ray.worker"])
    deadline = time.monotonic() + 120
    while _pid_alive(str(worker)):
        assert time.monotonic() < deadline, "Ray did not end the dead driver's worker"
        time.sleep(0.5)
    # left behind (running, or stopped when the worker was killed while it removed it)
    assert docker_engine.containers.list(all=True, filters={"id": container})
    import ray
    ray_backend.connect(cluster.address)
    removed = ray_backend.sweep(ray)
    assert container in [c for found in removed.values() for c in found["containers"]]
    assert not docker_engine.containers.list(all=True, filters={"id": container})


@pytest.mark.usefixtures("docker_engine")
def test_a_pipeline_run_settles_when_its_node_dies(cluster, workspace, tmp_path,
                                                   docker_engine):
    """Through the runner: the step whose node is killed fails naming the node, and the run
    settles (Failed) instead of staying Running."""
    import time
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import RayCompute
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    target = ComputeTarget.attach(workspace, "ray-workers", RayCompute.attach_configuration(
        address=cluster.address, resources={"worker": 1}))
    src = tmp_path / "src"
    src.mkdir()
    (src / "sleep.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(600)\n")
    step = PythonScriptStep("sleep.py", name="sleeper", source_directory=str(src),
                            compute_target=target)
    run = Pipeline(workspace, [step]).submit("ray-node-loss")
    ours = {n.node_id for n in cluster.list_all_nodes()}
    deadline, running = time.monotonic() + 300, []
    while not running:
        assert time.monotonic() < deadline, "the step's container never started"
        running = [c for c in docker_engine.containers.list(filters={"label": "amlocal.ray.node"})
                   if c.labels["amlocal.ray.node"] in ours]
        time.sleep(0.5)
    (container,) = running
    node = container.labels["amlocal.ray.node"]
    try:
        _kill_node_of(cluster, node)
        assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
        (failed,) = run.get_steps()
        assert failed.get_status() == "Failed"
        log = failed.get_job_log()
        assert f"({node[:8]}) died while it ran step 'sleeper'" in log, log
    finally:                              # the dead node's orphan, unless the run's end did
        for left in docker_engine.containers.list(all=True, filters={"id": container.id}):
            left.remove(force=True)
