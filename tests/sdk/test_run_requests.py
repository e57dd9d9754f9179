"""What a run configuration asks of a cluster (CPUs, memory, GPUs, node count) reaches the frozen
node and the StepSpec; AmlCompute maps onto the Ray cluster of $AMLOCAL_RAY_ADDRESS (vm_size the
steps' default request, what is ignored said once), and stays a Docker target without it."""
from __future__ import annotations

from pathlib import Path

import pytest

from amlocal.errors import ComputeTargetException, UserErrorException

GIB = 1024 ** 3


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "train.py").write_text("print('hi')\n")
    return src


def _freeze(workspace, steps):
    from amlocal._engine.graph import Graph
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core._freeze import freeze
    graph, errors = freeze(Pipeline(workspace, steps), take_snapshots=False)
    return (Graph.from_dict(graph) if not errors else None), errors


def _ray_target(workspace, name="ray-head", **kwargs):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import RayCompute
    return ComputeTarget.attach(workspace, name, RayCompute.attach_configuration(
        address="10.0.0.5:6379", **kwargs))


def test_docker_requests_are_parsed():
    from amlocal.core._runconfig_requests import docker_requests, memory_bytes
    assert docker_requests(["--cpus=1.5", "--memory", "512m", "--gpus", "device=0,1"]) == {
        "num_cpus": 1.5, "memory": 512 * 1024 ** 2, "num_gpus": 2}
    assert docker_requests(["-m 2g --gpus=count=3"]) == {"memory": 2 * GIB, "num_gpus": 3}
    assert docker_requests(["--gpus", "all", "--shm-size=1g"]) == {"num_gpus": 1}
    assert docker_requests([]) == {}
    assert memory_bytes("4gb") == 4 * GIB and memory_bytes("1024") == 1024
    with pytest.raises(UserErrorException, match="--gpus needs a value"):
        docker_requests(["--gpus"])
    with pytest.raises(UserErrorException, match="names no GPUs"):
        docker_requests(["--gpus", "lots"])
    with pytest.raises(UserErrorException, match="not a positive number of CPUs"):
        docker_requests(["--cpus=0"])


def test_vm_sizes_table():
    from amlocal.core.compute import AmlCompute
    from amlocal.core.compute._vm_sizes import lookup, vm_size_request
    assert lookup("STANDARD_D2_V2") == (2, 7, 0) == lookup("d2_v2")
    assert vm_size_request("Standard_NC6", "x") == {"num_cpus": 6, "memory": 56 * GIB,
                                                     "num_gpus": 1}
    assert vm_size_request("Standard_DS3_v2", "x") == {"num_cpus": 4, "memory": 14 * GIB}
    with pytest.raises(ComputeTargetException) as info:
        vm_size_request("Standard_Q9000", "cluster 'x'")
    assert "cluster 'x': vm_size 'Standard_Q9000' is not an Azure VM size" in str(info.value)
    assert "Standard_D2_v2" in str(info.value) and "Standard_NC6s_v3" in str(info.value)
    sizes = {s["name"]: s for s in AmlCompute.supported_vmsizes(None)}
    assert sizes["Standard_E4s_v3"] == {"name": "Standard_E4s_v3", "vCPUs": 4, "gpus": 0,
                                        "memoryGB": 32.0, "maxResourceVolumeMB": None}


def test_run_configuration_requests_reach_the_node_and_step_spec(workspace, tmp_path):
    from amlocal._engine.plan import step_spec
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.steps import PythonScriptStep
    ray = _ray_target(workspace, resources={"node_a": 1})
    rc = RunConfiguration()
    rc.amlcompute.vm_size = "Standard_NC6"                # 6 CPUs, 56 GiB, 1 GPU ...
    rc.docker.arguments = ["--cpus=2", "--memory=3g"]      # ... the flags win key by key
    plain = RunConfiguration()
    src = _src(tmp_path)
    steps = [PythonScriptStep("train.py", name="big", source_directory=str(src), runconfig=rc,
                              compute_target=ray),
             PythonScriptStep("train.py", name="plain", source_directory=str(src),
                              runconfig=plain, compute_target=ray)]
    graph, errors = _freeze(workspace, steps)
    assert errors == []
    big, small = graph.find("big"), graph.find("plain")
    assert big.resources == {"num_cpus": 2.0, "memory": 3 * GIB, "num_gpus": 1}
    assert small.resources is None and small.node_count_for({}) == 1
    assert "resources" in big.to_dict() and "node_count" not in big.to_dict()
    spec = step_spec(run_id="r", step_name="big", workdir=tmp_path, runtime=tmp_path,
                     command=["python"], env={}, labels={}, resources=big.resources,
                     node_count=big.node_count_for({}))
    assert spec.resources == {"num_cpus": 2.0, "memory": 3 * GIB, "num_gpus": 1}
    assert spec.node_count == 1


def test_unknown_vm_size_fails_on_ray_only(workspace, tmp_path):
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.steps import PythonScriptStep
    ray = _ray_target(workspace)
    rc = RunConfiguration()
    rc.amlcompute.vm_size = "Standard_Q9000"
    src = _src(tmp_path)
    _, errors = _freeze(workspace, [PythonScriptStep("train.py", name="odd", runconfig=rc,
                                                     source_directory=str(src),
                                                     compute_target=ray)])
    assert len(errors) == 1 and errors[0].startswith(
        "step 'odd': run_config.amlcompute: vm_size 'Standard_Q9000' is not an Azure VM size")
    graph, errors = _freeze(workspace, [PythonScriptStep("train.py", name="odd", runconfig=rc,
                                                         source_directory=str(src))])
    assert errors == [] and graph.find("odd").resources is None   # docker: recorded, ignored


def test_parallel_run_step_node_count_is_the_nodes_copies(workspace, tmp_path):
    from amlocal.core import Environment
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import PipelineParameter
    from amlocal.pipeline.steps import ParallelRunConfig, ParallelRunStep
    from amlocal.core import Dataset
    src = _src(tmp_path)
    (src / "score.py").write_text("def run(batch):\n    return batch\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    ds = Dataset.File.from_files(str(data))
    ray = _ray_target(workspace)

    def step(name, node_count):
        config = ParallelRunConfig(environment=Environment("prs"), entry_script="score.py",
                                   source_directory=str(src), error_threshold=0,
                                   output_action="append_row", compute_target=ray,
                                   node_count=node_count, process_count_per_node=1)
        return ParallelRunStep(name, config, inputs=[ds.as_named_input(f"in_{name}")],
                               output=OutputFileDatasetConfig(f"out_{name}"))
    nodes = PipelineParameter("nodes", default_value=3)
    graph, errors = _freeze(workspace, [step("fixed", 2), step("param", nodes)])
    assert errors == []
    assert graph.find("fixed").node_count_for({}) == 2
    assert graph.find("fixed").to_dict()["node_count"] == {"value": 2}
    assert graph.parameters["nodes"] == 3
    assert graph.find("param").node_count_for({"nodes": 3}) == 3
    assert graph.find("param").node_count_for({"nodes": "4"}) == 4
    from amlocal._engine.graph import Graph, GraphFormatError
    again = Graph.from_dict(graph.to_dict())
    assert again.find("param").node_count == graph.find("param").node_count
    with pytest.raises(GraphFormatError, match="node_count must be a whole number >= 1"):
        graph.find("param").node_count_for({"nodes": 0})


def test_amlcompute_without_a_cluster_stays_docker(workspace, monkeypatch, capsys):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import AmlCompute
    monkeypatch.delenv("AMLOCAL_RAY_ADDRESS", raising=False)
    config = AmlCompute.provisioning_configuration(vm_size="Standard_Q9000", max_nodes=4)
    target = ComputeTarget.create(workspace, "cpu-cluster", config)
    assert target.kind == "docker" and "kind" not in config
    assert target.get_status().current_node_count == 0
    assert "Ray" not in capsys.readouterr().err


def test_amlcompute_maps_onto_the_configured_ray_cluster(workspace, monkeypatch, capsys):
    from amlocal.compute.ray import options_from_target
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import AmlCompute
    from amlocal.core.compute import amlcompute
    amlcompute._say_ignored_once.cache_clear()
    monkeypatch.setenv("AMLOCAL_RAY_ADDRESS", "10.0.0.5:6379")
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", min_nodes=0,
                                                   max_nodes=4, vm_priority="lowpriority",
                                                   idle_seconds_before_scaledown=120)
    target = ComputeTarget.create(workspace, "cpu-cluster", config)
    target.wait_for_completion(show_output=False)
    again = ComputeTarget(workspace, "cpu-cluster")
    assert isinstance(again, AmlCompute) and again.kind == "ray"
    assert options_from_target(again._info.config) == {
        "address": "10.0.0.5:6379", "resources": {"num_cpus": 2, "memory": 7 * GIB}}
    assert again.serialize()["properties"]["properties"]["vmSize"] == "STANDARD_D2_V2"
    # AmlCompute(ws, name) of a new name (the tutorials' get-or-create) lands there too
    made = AmlCompute(workspace, "gpu-cluster")
    assert made.kind == "ray"
    AmlCompute.provisioning_configuration(vm_size="Standard_DS3_v2")
    err = capsys.readouterr().err
    assert err.count("ignored: vm_priority, idle_seconds_before_scaledown, min_nodes/max_nodes") == 1
    assert "compute target 'gpu-cluster' does not exist; it runs steps on the Ray cluster at " \
           "10.0.0.5:6379" in err
    # the explicit kind still wins; an unknown size or a bad address is refused at once
    assert AmlCompute.provisioning_configuration(kind="docker")["kind"] == "docker"
    with pytest.raises(ComputeTargetException, match="vm_size 'Standard_Q9000' is not"):
        AmlCompute.provisioning_configuration(vm_size="Standard_Q9000")
    monkeypatch.setenv("AMLOCAL_RAY_ADDRESS", "no port")
    with pytest.raises(ComputeTargetException, match=r"\$AMLOCAL_RAY_ADDRESS: .*not a Ray"):
        AmlCompute.provisioning_configuration(vm_size="Standard_D2_v2")

