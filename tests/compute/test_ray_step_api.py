"""Steps on a Ray cluster's node reach the step API over TCP with TLS, not through a mounted
socket: a pipeline on a real one-node Ray cluster (``ray.cluster_utils.Cluster``, 1 CPU and 1 GiB)
whose steps log metrics (one batch of hundreds of values), write outputs/, register a model and
print lines; everything lands in the store, and each step saw an https:// run service, the CA,
and no socket mount. Without ray or Docker these tests skip locally and FAIL under $CI."""
from __future__ import annotations

import socket

import pytest

STEP_SCRIPT = """
import os, sys
from azureml.core import Model, Run
run = Run.get_context()
print("service", os.environ["AMLOCAL_RUN_SERVICE"])
print("ca given", os.environ.get("AMLOCAL_RUN_SERVICE_CA", "").startswith("-----BEGIN CERTIFICATE"))
mounts = open("/proc/self/mountinfo").read()
print("socket mounted", "/amlocal/service" in mounts, os.path.exists("/amlocal/service/run.sock"))
print("run", run.id, run.parent.id)
run.log("accuracy", 0.9)
for i in range(400):
    run.log("curve", i / 2)
run.log_list("values", [1, 2, 3])
os.makedirs("outputs", exist_ok=True)
with open("outputs/result.txt", "w") as f:
    f.write("written on the node by " + sys.argv[1])
with open("model.txt", "w") as f:
    f.write("weights of " + sys.argv[1])
model = Model.register(run.experiment.workspace, "model.txt", "tls-model-" + sys.argv[1])
print("registered", model.name, model.version)
for i in range(3):
    print("line", i, "of", sys.argv[1], flush=True)
"""


@pytest.fixture(scope="module")
def ray_cluster(ray_clusters):
    with ray_clusters.running([ray_clusters.node()]) as cluster:
        yield cluster


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.mark.usefixtures("docker_engine")
def test_steps_on_a_node_use_the_step_api_over_tls(ray_cluster, workspace, tmp_path):
    from ray.util import get_node_ip_address
    from amlocal.core import ComputeTarget, Model
    from amlocal.core.compute import RayCompute
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    here = get_node_ip_address()
    port = _free_port(here)
    default = ComputeTarget.attach(workspace, "ray", RayCompute.attach_configuration(
        address=ray_cluster.address))
    fixed = ComputeTarget.attach(workspace, "ray-fixed", RayCompute.attach_configuration(
        address=ray_cluster.address, service_address=f"{here}:{port}"))
    assert ComputeTarget(workspace, "ray-fixed").service_address == f"{here}:{port}"
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text(STEP_SCRIPT)
    targets = {"a1": default, "a2": default, "b": fixed}
    steps = [PythonScriptStep("step.py", name=name, source_directory=str(src), arguments=[name],
                              compute_target=target, allow_reuse=False)
             for name, target in targets.items()]
    run = Pipeline(workspace, steps).submit("ray-tls")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Finished", \
        run.get_details()
    by_name = {s.name: s for s in run.get_steps()}
    for name in targets:
        step = by_name[name]
        log = step.get_job_log()
        service = next(line.split()[1] for line in log.splitlines()
                       if line.startswith("service "))
        assert service.startswith(f"https://{here}:"), log
        if name == "b":
            assert service == f"https://{here}:{port}"
        assert "ca given True" in log
        assert "socket mounted False False" in log            # no Unix-socket mount
        assert f"run {step.id} {run.id}" in log               # Run.get_context() and its parent
        assert [f"line {i} of {name}" in log for i in range(3)] == [True] * 3
        metrics = step.get_metrics()
        assert metrics["accuracy"] == 0.9 and metrics["values"] == [1, 2, 3]
        assert metrics["curve"] == [i / 2 for i in range(400)]
        assert "outputs/result.txt" in step.get_file_names()
        store = workspace._store
        kept = store.read_artifact(step.id, "outputs/result.txt").decode()
        assert kept == f"written on the node by {name}"
        model = Model(workspace, f"tls-model-{name}")
        assert model.version == 1 and model.run_id == step.id
        target = tmp_path / "download" / name
        model.download(str(target))
        assert (target / "model.txt").read_text() == f"weights of {name}"
    # one TLS listener per run and address: the default target's two steps shared one
    from amlocal._status import PIPELINE_LOG
    pipeline_log = workspace._store.read_artifact(run.id, PIPELINE_LOG).decode()
    listening = [line for line in pipeline_log.splitlines() if "also listens at https://" in line]
    assert len(listening) == 2, pipeline_log


@pytest.mark.usefixtures("docker_engine")
def test_a_sandboxed_step_without_network_is_refused_before_it_starts(ray_cluster, workspace,
                                                                       tmp_path):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import RayCompute
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    target = ComputeTarget.attach(workspace, "ray", RayCompute.attach_configuration(
        address=ray_cluster.address))
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text("print('never runs')\n")
    step = PythonScriptStep("step.py", name="boxed", source_directory=str(src),
                            compute_target=target)
    step.sandbox = {"network": False}
    run = Pipeline(workspace, [step]).submit("ray-tls-sandbox")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    (failed,) = run.get_steps()
    message = workspace._store.get_run(failed.id).error["message"]
    assert "step 'boxed' is sandboxed without network" in message
    assert "allow the sandbox network" in message
    assert "never runs" not in failed.get_job_log()


def test_service_address_is_checked_when_attaching(workspace):
    from amlocal.core.compute import RayCompute
    from amlocal.errors import ComputeTargetException
    with pytest.raises(ComputeTargetException, match="service_address 'x y' is not an address"):
        RayCompute.attach_configuration(address="10.0.0.5:6379", service_address="x y")
    config = RayCompute.attach_configuration(address="10.0.0.5:6379",
                                             service_address="10.0.0.9:8765")
    assert config.service_address == "10.0.0.9:8765"
