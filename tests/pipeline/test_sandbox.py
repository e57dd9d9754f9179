"""The step sandbox through the pipeline API: ``run_config.docker.sandbox`` (and a step's own
``sandbox`` dict, as ExecutePythonScriptStep sets it) frozen into the graph, and proved from
inside real containers of the shared light environment."""
from __future__ import annotations

import json
import subprocess
import textwrap
import uuid

import pytest

PROBE = """
    import errno, json, os, socket, sys
    from azureml.core import Run
    marker = sys.argv[1]
    report = {"uid": os.getuid()}
    if sys.argv[2] == "connect":
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=2).close()
            report["connect"] = "connected"
        except OSError as exc:
            report["connect"] = errno.errorcode.get(exc.errno, str(exc))
    writable = {}
    for folder in ("/", "/usr", "/opt/env", os.getcwd(), "/tmp", sys.argv[3]):
        try:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, marker), "w") as f:
                f.write("scratch")
            writable[folder] = True
        except OSError:
            writable[folder] = False
    report["writable"] = writable
    report["interfaces"] = sorted(line.split(":")[0].strip()
                                  for line in open("/proc/net/dev").read().splitlines()[2:])
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        if os.path.exists(path):
            report["memory"] = open(path).read().strip()
    report["workdir"] = os.getcwd()
    Run.get_context().log("sandboxed_uid", os.getuid())
    print("REPORT " + json.dumps(report))
"""


def _src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / "probe.py").write_text(textwrap.dedent(PROBE))
    return str(folder)


def _report(step_run) -> dict:
    line = next(l for l in step_run.get_job_log().splitlines() if l.startswith("REPORT "))
    return json.loads(line[len("REPORT "):])


def _boxed_config(**docker):
    from amlocal.core import RunConfiguration
    rc = RunConfiguration()
    rc.docker.sandbox = True
    for key, value in docker.items():
        setattr(rc.docker, key, value)
    return rc


@pytest.mark.usefixtures("docker_engine")
def test_sandboxed_pipeline_steps_from_inside_their_containers(workspace, home, tmp_path):
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep

    marker = f"sandbox-{uuid.uuid4().hex[:8]}.txt"
    src = _src(tmp_path)
    out = PipelineData("boxed_out")
    boxed = PythonScriptStep(
        "probe.py", name="boxed", source_directory=src, outputs=[out],
        arguments=[marker, "connect", out],
        runconfig=_boxed_config(arguments=["--memory=256m", "--cpus", "1"]))
    netted = PythonScriptStep(
        "probe.py", name="netted", source_directory=src, inputs=[out],
        arguments=[marker, "no-connect", "/tmp/other"],
        runconfig=_boxed_config(allow_network=True))
    run = Pipeline(workspace, [boxed, netted]).submit("sandbox")
    assert run.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s for s in run.get_steps()}

    report = _report(steps["boxed"])
    assert report["connect"] == "ENETUNREACH"               # failed at once, nothing was sent
    assert report["interfaces"] == ["lo"]
    outputs = next(k for k in report["writable"] if k.endswith("boxed_out"))
    assert report["writable"] == {"/": False, "/usr": False, "/opt/env": False,
                                  report["workdir"]: True, "/tmp": True, outputs: True}
    assert report["uid"] != 0
    assert int(report["memory"]) == 256 * 1024 ** 2
    assert steps["boxed"].get_metrics() == {"sandboxed_uid": report["uid"]}   # the run service works

    net = _report(steps["netted"])
    assert [i for i in net["interfaces"] if i != "lo"]      # read /proc/net/dev; no traffic
    assert net["writable"]["/"] is False and net["uid"] != 0

    # nothing the scripts wrote survives, except the declared output: working directories and
    # containers are gone, and the marker exists nowhere else on the host
    for step in steps.values():
        assert not (home / "work" / step.id).exists()
        found = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=amlocal.run_id={step.id}"],
                               capture_output=True, text=True, check=True)
        assert found.stdout.strip() == ""
    left = [p for p in tmp_path.rglob(marker)]
    assert len(left) == 1 and left[0].parent.name == "boxed_out"


def test_run_configuration_maps_to_the_node_sandbox(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core._freeze import freeze
    from amlocal.pipeline.steps import PythonScriptStep

    src = _src(tmp_path)
    plain = PythonScriptStep("probe.py", name="plain", source_directory=src)
    boxed = PythonScriptStep("probe.py", name="boxed", source_directory=src,
                             runconfig=_boxed_config(arguments=["-m", "1g", "--cpus=1.5", "--shm-size=1g"]))
    limits_only = PythonScriptStep("probe.py", name="limits", source_directory=src,
                                   runconfig=_boxed_config(sandbox=False, arguments=["--memory=1g"]))
    own = PythonScriptStep("probe.py", name="own", source_directory=src,
                           runconfig=_boxed_config(sandbox=False, arguments=["--memory=512m"]))
    own.sandbox = {"network": True}                        # what ExecutePythonScriptStep sets
    graph, errors = freeze(Pipeline(workspace, [plain, boxed, limits_only, own]),
                           take_snapshots=False)
    assert errors == []
    nodes = {n["name"]: n["sandbox"] for n in graph["steps"]}
    assert nodes == {"plain": None, "boxed": {"network": False, "memory": "1g", "cpus": 1.5},
                     "limits": None, "own": {"network": True, "memory": "512m"}}
    json.dumps(graph)                                       # still plain data


def test_docker_configuration_defaults_and_round_trip(tmp_path):
    from amlocal.core import RunConfiguration
    from amlocal.core.runconfig import DockerConfiguration

    docker = DockerConfiguration()
    assert (docker.sandbox, docker.allow_network, docker._sandbox_spec()) == (False, True, None)
    docker.sandbox = True
    assert docker.allow_network is False                   # sandboxed: network off unless asked
    rc = RunConfiguration()
    assert "sandbox" not in rc._serialize_to_dict()["docker"]   # azureml's file, unchanged
    rc.docker = DockerConfiguration(arguments=["--memory", "64m"], sandbox=True, allow_network=True)
    rc.save(str(tmp_path / "boxed.runconfig"))
    loaded = RunConfiguration.load(str(tmp_path / "boxed.runconfig"))
    assert loaded.docker._sandbox_spec() == {"network": True, "memory": "64m"}


def test_invalid_limits_and_local_targets_are_refused_before_anything_runs(workspace, tmp_path):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import AmlCompute
    from amlocal.errors import ValidationError
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = _src(tmp_path)
    bad = PythonScriptStep("probe.py", name="bad", source_directory=src,
                           runconfig=_boxed_config(arguments=["--memory=lots"]))
    ComputeTarget.create(workspace, "debug", AmlCompute.provisioning_configuration(kind="local"))
    local = PythonScriptStep("probe.py", name="local", source_directory=src,
                             compute_target="debug", runconfig=_boxed_config())
    with pytest.raises(ValidationError) as info:
        Pipeline(workspace, [bad, local]).submit("refused")
    text = str(info.value)
    assert "step 'bad'" in text and "'lots' is not a size" in text and "--memory=512m" in text
    assert "step 'local' is sandboxed" in text and "'local' compute target cannot enforce" in text
    assert "docker target" in text
