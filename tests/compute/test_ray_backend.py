"""The ``ray`` backend on a real two-node Ray cluster on this machine
(``ray.cluster_utils.Cluster``: each node 1 CPU, 1 GiB of memory and a custom resource naming it). Steps pinned to each node run in
their environment's image and stream their lines back; a request no node has fails at once; a
cancelled step's container is removed; without the ``ray`` package the error names ``pip install
ray``. Without ray or Docker these tests skip locally and FAIL under $CI."""
from __future__ import annotations

import sys
import time

import pytest

from amlocal.compute import StepSpec, get_backend
from amlocal.errors import ComputeError, ComputeTargetException

GIB = 1024 ** 3


@pytest.fixture(scope="module")
def ray_cluster(ray_clusters):
    """Two nodes, labelled node_a (the head) and node_b; this process connected through the
    backend itself (ray.init(address=...))."""
    with ray_clusters.running([ray_clusters.node(node_a=1),
                               ray_clusters.node(node_b=1)]) as cluster:
        yield cluster


def _spec(step_dirs, name: str, code: str, **resources) -> StepSpec:
    wd, _ = step_dirs
    return StepSpec(run_id=f"ray-test-{name}", step_name=name,
                    command=("python", "-c", code), working_dir=str(wd),
                    env={"STEP": name}, labels={"amlocal.test": "ray"},
                    resources=resources or None)


def test_missing_ray_names_pip_install(monkeypatch, step_dirs):
    from amlocal.compute import EnvironmentSpec, ResolvedEnvironment
    env = ResolvedEnvironment(spec=EnvironmentSpec(), installer="uv", installer_version="0",
                              lock_text="", digest="0" * 64, base_image="b", image="amlocal-env:x")
    monkeypatch.setitem(sys.modules, "ray", None)       # `import ray` raises ImportError
    backend = get_backend("ray")
    with pytest.raises(ComputeError, match="needs the Ray package.*: pip install ray"):
        backend.submit(_spec(step_dirs, "noray", "print(1)"), env)


def test_steps_pinned_to_two_nodes(ray_cluster, step_dirs, six_env):
    code = ("import os, sys, six\n"
            "print('hello from', os.environ['STEP'])\n"
            "print('cwd', os.getcwd())\n"
            "print('last line without newline', end='')\n"
            "sys.exit(0 if os.environ['STEP'] == 'a' else 3)\n")
    backend = get_backend("ray", address=ray_cluster.address)
    handles = {name: backend.submit(_spec(step_dirs, name, code,
                                          resources={f"node_{name}": 1}), six_env)
               for name in ("a", "b")}
    out = {name: list(h.lines()) for name, h in handles.items()}
    codes = {name: h.wait() for name, h in handles.items()}
    assert out["a"] == ["hello from a", "cwd /amlocal/wd", "last line without newline"]
    assert out["b"][0] == "hello from b"
    assert codes == {"a": 0, "b": 3}
    import ray
    nodes = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
    assert "node_a" in nodes[handles["a"].node_id] and "node_b" in nodes[handles["b"].node_id]
    from amlocal.compute.images import docker_client
    client = docker_client()
    assert not client.containers.list(all=True, filters={"label": "amlocal.test=ray"})


def test_unsatisfiable_request_fails_at_once(ray_cluster, step_dirs, six_env):
    backend = get_backend("ray", address=ray_cluster.address)
    started = time.monotonic()
    with pytest.raises(ComputeTargetException) as info:
        backend.submit(_spec(step_dirs, "big", "print(1)", num_cpus=4, memory=8 * GIB), six_env)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "step 'big' asks the Ray cluster for CPU 4, memory 8.0 GiB" in message
    assert "node_a 1" in message and "node_b 1" in message and "CPU 2" in message
    with pytest.raises(ComputeTargetException, match="node_c"):
        backend.submit(_spec(step_dirs, "nowhere", "print(1)", resources={"node_c": 1}), six_env)


def test_cancel_removes_the_container(ray_cluster, step_dirs, six_env):
    from amlocal.compute.images import docker_client
    backend = get_backend("ray", address=ray_cluster.address)
    handle = backend.submit(_spec(step_dirs, "slow", "import time\nprint('up', flush=True)\n"
                                  "time.sleep(120)", resources={"node_b": 1}), six_env)
    lines = handle.lines()
    assert next(lines) == "up"
    handle.cancel()
    assert handle.wait() != 0
    deadline = time.monotonic() + 15
    client = docker_client()
    while client.containers.list(all=True, filters={"label": "amlocal.test=ray"}):
        assert time.monotonic() < deadline, "the cancelled step's container was not removed"
        time.sleep(0.2)


STEP_SCRIPT = """
import os, sys
from azureml.core import Run
run = Run.get_context()
run.log("which", sys.argv[1])
print("step", sys.argv[1], "says hello")
"""


@pytest.mark.usefixtures("docker_engine")
def test_pipeline_steps_on_two_attached_targets(ray_cluster, workspace, tmp_path):
    """Two RayCompute targets of one cluster, pinned to node_a and node_b: a pipeline whose
    steps use them finishes, with their logs and metrics, through the runner."""
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import RayCompute
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    targets = {}
    for node in ("a", "b"):
        config = RayCompute.attach_configuration(address=ray_cluster.address,
                                                 resources={f"node_{node}": 1})
        targets[node] = ComputeTarget.attach(workspace, f"ray-{node}", config)
        targets[node].wait_for_completion(show_output=False)
    again = ComputeTarget(workspace, "ray-a")
    assert isinstance(again, RayCompute) and again.kind == "ray"
    assert again.address == ray_cluster.address
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.py").write_text(STEP_SCRIPT)
    steps = [PythonScriptStep("hello.py", name=f"on-{node}", source_directory=str(src),
                              arguments=[node], compute_target=targets[node])
             for node in ("a", "b")]
    run = Pipeline(workspace, steps).submit("ray-pipeline")
    assert run.wait_for_completion(show_output=False) == "Finished"
    by_name = {s.name: s for s in run.get_steps()}
    for node in ("a", "b"):
        step = by_name[f"on-{node}"]
        assert f"step {node} says hello" in step.get_job_log()
        assert step.get_metrics() == {"which": node}
        definition = workspace._store.get_run(step.id).definition
        assert definition["compute"] == {"name": f"ray-{node}", "kind": "ray"}

    # a target asking for what no node has: its step fails at once, naming the request
    nowhere = ComputeTarget.attach(workspace, "ray-c", RayCompute.attach_configuration(
        address=ray_cluster.address, resources={"node_c": 1}))
    step = PythonScriptStep("hello.py", name="on-c", source_directory=str(src), arguments=["c"],
                            compute_target=nowhere)
    started = time.monotonic()
    run = Pipeline(workspace, [step]).submit("ray-pipeline")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    assert time.monotonic() - started < 30
    (failed,) = run.get_steps()
    assert "asks the Ray cluster for CPU 1, node_c 1, which no node has" in \
        workspace._store.get_run(failed.id).error["message"]


def test_attach_configuration_is_checked(workspace):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import AmlCompute, RayCompute
    with pytest.raises(ComputeTargetException, match="not a Ray cluster address"):
        RayCompute.attach_configuration(address="no port")
    with pytest.raises(ComputeTargetException, match="resources must map"):
        RayCompute.attach_configuration(address="10.0.0.5:6379", resources={"node_a": 0})
    with pytest.raises(ComputeTargetException, match="RayCompute.attach_configuration"):
        ComputeTarget.attach(workspace, "cpu", AmlCompute.provisioning_configuration())
    target = ComputeTarget.attach(workspace, "far", RayCompute.attach_configuration(
        address="ray://10.0.0.5:10001", num_cpus=2))
    assert ComputeTarget(workspace, "far").backend_options() == {
        "address": "ray://10.0.0.5:10001", "resources": {"num_cpus": 2}}
    assert target.type == "RayCompute"
    import subprocess
    done = subprocess.run([sys.executable, "-c", "import amlocal.compat as c; c.install()\n"
                           "from azureml.core.compute import RayCompute\n"
                           "import amlocal.core.compute as real, sys\n"
                           "assert RayCompute is real.RayCompute\n"
                           "assert 'ray' not in sys.modules\n"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr          # through the alias; ray is not imported


def test_cli_attach_list_show(workspace, tmp_path, monkeypatch):
    import json
    from click.testing import CliRunner
    from amlocal.cli import cli
    monkeypatch.chdir(tmp_path)
    where = ["-w", "testws", "-g", "test-rg"]
    runner = CliRunner()
    done = runner.invoke(cli, ["compute", "attach", "ray-head", "--address", "10.0.0.5:6379",
                               "--resources", "node_a=1", *where])
    assert done.exit_code == 0, done.output
    assert "Attached Ray cluster 10.0.0.5:6379 as compute target 'ray-head'" in done.output
    shown = json.loads(runner.invoke(cli, ["compute", "show", "ray-head", *where,
                                           "-o", "json"]).output)
    assert shown["kind"] == "ray" and shown["resources"] == {"node_a": 1}
    listed = runner.invoke(cli, ["compute", "list", *where]).output
    assert "ray-head" in listed and "10.0.0.5:6379" in listed
    bad = runner.invoke(cli, ["compute", "attach", "x1", "--address", "nowhere", *where])
    assert bad.exit_code == 1 and "not a Ray cluster address" in bad.output
