"""ParallelRunStep spread over the copies a cluster starts (``node_count > 1``).

The seam first, with the driver's copies as plain processes sharing a working directory (what
the ``ray`` backend's copies share): every mini-batch runs exactly once, on some copy; the
copies' append_row parts are merged by rank 0; a failure on one copy fails the whole job and
leaves no output. Then on a real two-node Ray cluster (``ray.cluster_utils.Cluster``, nodes of 1
CPU and 1 GiB each): a ParallelRunStep with ``node_count=2`` runs mini-batches on both nodes
(each worker records its node rank and its container's host name) and its output is complete.
Without ray or Docker the cluster test skips locally and FAILS under $CI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCORE = """
import os, socket, time
def run(mini_batch):
    time.sleep(0.3)
    rank = os.environ.get("AMLOCAL_NODE_RANK", "-")
    out = []
    for path in mini_batch:
        name = os.path.basename(path)
        if "bad" in name:
            raise ValueError("cannot score " + name)
        out.append(f"{name} {rank} {socket.gethostname()}")
    return out
"""


def _driver_args(**extra) -> list[str]:
    args = {"scoring_module_name": "score.py", "mini_batch_size": "1", "error_threshold": "0",
            "output_action": "append_row", "output": "out", "process_count_per_node": "1",
            "run_max_try": "1", "amlocal_node_count": "2", **extra}
    return [x for k, v in args.items() for x in (f"--{k}", v)] + ["--input_fds_0", "docs"]


def _run_copies(tmp_path: Path, names: list[str], count: int = 2, **extra):
    """Run ``count`` copies of the driver as the ray backend does: each in a working directory
    (and output folder ``out`` in it) of its own, at the same time; then bring what each wrote
    back to the host's folders (refusing a file two copies wrote, as the backend does) and
    combine them there as the runner does. Returns (host workdir, host output, exit status,
    notes, each copy's output)."""
    from amlocal._engine.parallel_copies import finish_copies
    from amlocal.compute import Mount
    data, host_wd, host_out = tmp_path / "data", tmp_path / "wd", tmp_path / "out"
    for folder in (data, host_wd, host_out):
        folder.mkdir()
    for name in names:
        (data / name).write_text(name)
    code = ("import sys\nfrom amlocal._runtime.parallel_run.driver import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    copies = []
    for rank in range(count):
        wd = tmp_path / f"copy{rank}"
        (wd / "out").mkdir(parents=True)
        (wd / "score.py").write_text(SCORE)
        env = {**os.environ, "AMLOCAL_NODE_RANK": str(rank), "AMLOCAL_NODE_COUNT": str(count),
               "AZUREML_DATAREFERENCE_docs": str(data)}
        copies.append((wd, subprocess.Popen(
            [sys.executable, "-c", code, *_driver_args(**extra)], cwd=wd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    outputs, codes, owner = [], [], {}
    for rank, (wd, process) in enumerate(copies):
        codes.append(process.wait(timeout=300))
        outputs.append(process.stdout.read())
        for path in sorted(wd.rglob("*")):
            rel = path.relative_to(wd)
            if path.is_dir() or rel.as_posix() == "score.py":
                continue
            assert owner.setdefault(rel, rank) == rank, f"copies {owner[rel]} and {rank} wrote {rel}"
            target = (host_out / rel.relative_to("out") if rel.parts[0] == "out"
                      else host_wd / rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    first_bad = next((c for c in codes if c != 0), 0)
    status, notes = finish_copies(host_wd, [Mount(str(host_out), "out", read_only=False)],
                                  count, first_bad)
    return host_wd, host_out, status, notes, outputs


def test_copies_share_the_mini_batches_and_the_host_merges(tmp_path):
    names = [f"doc{i:02d}.txt" for i in range(12)]
    wd, out, status, notes, outputs = _run_copies(tmp_path, names)
    assert status == 0, (notes, outputs)
    lines = (out / "parallel_run_step.txt").read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == names       # each exactly once
    ranks = [line.split()[1] for line in lines]
    assert ranks == ["0"] * 6 + ["1"] * 6                            # merged in rank order
    assert sorted(os.listdir(out)) == ["parallel_run_step.txt"]     # no part left behind
    result = (wd / "logs" / "job_result.txt").read_text()
    assert "Job succeeded" in result and "12/12 mini-batches done" in result
    assert "items: 12 succeeded, 0 failed; on 2 nodes" in result
    assert "[ParallelRunStep] job succeeded on 2 nodes" in notes
    assert (wd / "logs" / "sys" / "master_role.txt").is_file()
    assert (wd / "logs" / "sys" / "node" / "node1" / "agent_role.txt").is_file()
    assert "progress: 6/12" in (wd / "logs" / "job_progress_overview.txt").read_text()
    for node in ("node0", "node1"):
        assert (wd / "logs" / "user" / "stdout" / node / "process000.stdout.txt").exists()
    assert not (wd / ".amlocal_parallel_run").exists()
    assert "node 1 of 2 (host" in outputs[1]


def test_a_failure_on_one_copy_fails_the_job(tmp_path):
    names = [f"doc{i:02d}.txt" for i in range(10)] + ["doc05bad.txt"]
    wd, out, status, notes, outputs = _run_copies(tmp_path, names)
    assert status == 1, (notes, outputs)
    assert "1 failed items exceed error_threshold=0" in (wd / "logs" / "job_error.txt").read_text()
    assert os.listdir(out) == []                     # no output file and no part on failure
    assert "cannot score doc05bad.txt" in (wd / "logs" / "user" / "error.txt").read_text()


def test_limits_apply_to_the_sum_of_the_copies(tmp_path):
    """One failed item on each copy: neither copy exceeds error_threshold=1, their sum does."""
    names = [f"doc{i:02d}.txt" for i in range(8)] + ["doc00bad.txt", "doc02bad.txt"]
    wd, out, status, notes, outputs = _run_copies(tmp_path, names, error_threshold="1")
    # in order: doc00 doc00bad(id 1: node1) doc01 doc02 doc02bad(id 4: node0) ...
    assert "finished its share" in outputs[0] and "FAILED" not in outputs[0] + outputs[1]
    assert status == 1, (notes, outputs)
    assert "2 failed items exceed error_threshold=1" in notes[-1]
    assert os.listdir(out) == []


def test_a_copy_without_mini_batches_starts_no_worker(tmp_path):
    wd, out, status, notes, outputs = _run_copies(tmp_path, ["only.txt"])
    assert status == 0, (notes, outputs)
    assert "no mini-batch falls to this node: no worker started" in outputs[1]
    assert (out / "parallel_run_step.txt").read_text().split()[:2] == ["only.txt", "0"]
    assert not (wd / "logs" / "user" / "stdout" / "node1").exists()


def test_the_host_refuses_a_bad_hand_over(tmp_path):
    """What the copies left is a step's writing: a hand-over of the wrong shape, or an output
    folder that is not one of the step's writable mounts, fails the step, saying so."""
    import json
    from amlocal._engine.parallel_copies import finish_copies
    from amlocal.compute import Mount
    wd, out = tmp_path / "wd", tmp_path / "out"
    (wd / ".amlocal_parallel_run").mkdir(parents=True)
    out.mkdir()
    state = {"rank": 0, "count": 2, "state": "done", "error": None, "total": 2, "failing": [],
             "counts": {k: 1 for k in ("done", "succeeded", "items_ok")} | {
                 k: 0 for k in ("given_up", "failed_attempts", "items_failed")},
             "limits": {"error_threshold": 0}, "append_row": True, "output": "/elsewhere",
             "append_row_file_name": "parallel_run_step.txt"}
    (wd / ".amlocal_parallel_run" / "rank0.json").write_text(json.dumps(state))
    (wd / ".amlocal_parallel_run" / "rank1.json").write_text(json.dumps(
        {**state, "rank": 1, "counts": {**state["counts"], "items_ok": -5}}))
    mounts = [Mount(str(out), "/amlocal/outputs/scores", read_only=False)]
    code, notes = finish_copies(wd, mounts, 2, 0)
    assert code == 1 and "'counts' must hold whole numbers >= 0" in notes[-1]
    (wd / ".amlocal_parallel_run").mkdir()
    for rank in (0, 1):
        (wd / ".amlocal_parallel_run" / f"rank{rank}.json").write_text(
            json.dumps({**state, "rank": rank}))
    code, notes = finish_copies(wd, mounts, 2, 0)
    assert code == 1 and "output folder '/elsewhere' the copies name is not one of" in notes[-1]
    assert os.listdir(out) == []
    assert finish_copies(tmp_path / "other", mounts, 2, 0) == (0, [])   # not a PRS: untouched


def test_bad_node_rank_is_refused(tmp_path, monkeypatch):
    from amlocal._runtime.parallel_run.ranks import node_ranks
    from amlocal._runtime.parallel_run.settings import SettingsError
    monkeypatch.setenv("AMLOCAL_NODE_RANK", "2")
    monkeypatch.setenv("AMLOCAL_NODE_COUNT", "2")
    with pytest.raises(SettingsError, match="not a rank 0..count-1"):
        node_ranks()
    monkeypatch.delenv("AMLOCAL_NODE_RANK")
    monkeypatch.delenv("AMLOCAL_NODE_COUNT")
    assert node_ranks() == (0, 1)


# -- on a real two-node Ray cluster -------------------------------------------------------------
NODE_SCORE = """
import os, socket, time
from nodeinfo import node_id

NODE = node_id()

def run(mini_batch):
    time.sleep(0.2)
    rank = os.environ.get("AMLOCAL_NODE_RANK", "-")
    return [f"{os.path.basename(p)} {rank} {NODE} {socket.gethostname()}" for p in mini_batch]
"""

LIMITS = """
import os
def read(*paths):
    for path in paths:
        if os.path.exists(path):
            return open(path).read().strip()
    return "?"
# cgroup v2, else v1
print("memory", read("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"))
quota = read("/sys/fs/cgroup/cpu.max")
if quota == "?":
    quota = (read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") + " "
             + read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
print("cpu", quota)
"""


@pytest.fixture(scope="module")
def ray_cluster(ray_clusters):
    """Two nodes of 1 CPU and 1 GiB each; this process connected through the backend."""
    with ray_clusters.running([ray_clusters.node(), ray_clusters.node()]) as cluster:
        yield cluster


@pytest.mark.usefixtures("docker_engine")
def test_parallel_run_step_over_two_ray_nodes(ray_cluster, workspace, tmp_path, monkeypatch,
                                              capsys, ray_clusters):
    """An Azure script's AmlCompute (mapped onto the cluster by $AMLOCAL_RAY_ADDRESS) runs a
    ParallelRunStep with node_count=2: mini-batches run on both nodes and the output is
    complete; a step's --memory/--cpus requests become its container's limits."""
    import ray
    from amlocal.core import ComputeTarget, Dataset, Datastore, Environment
    from amlocal.core.compute import AmlCompute
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep
    monkeypatch.setenv("AMLOCAL_RAY_ADDRESS", ray_cluster.address)
    cluster = ComputeTarget.create(workspace, "cpu-cluster", AmlCompute.provisioning_configuration(
        vm_size="", min_nodes=0, max_nodes=4))
    cluster.wait_for_completion(show_output=False, min_node_count=3)
    assert "wants 3 node(s) but its Ray cluster has 2 alive" in capsys.readouterr().err
    assert cluster.get_status().current_node_count == 2
    assert cluster.kind == "ray"

    src = tmp_path / "src"
    src.mkdir()
    (src / "score.py").write_text(NODE_SCORE)
    (src / "nodeinfo.py").write_text(ray_clusters.NODE_INFO)
    (src / "limits.py").write_text(LIMITS)
    lake = tmp_path / "lake" / "docs"
    lake.mkdir(parents=True)
    names = [f"f{i:02d}.txt" for i in range(16)]
    for name in names:
        (lake / name).write_text(name)
    store = Datastore.register(workspace, "lake", url=str(tmp_path / "lake"))
    files = Dataset.File.from_files((store, "docs"))
    config = ParallelRunConfig(environment=Environment("prs-ray"), entry_script="score.py",
                               source_directory=str(src), error_threshold=0,
                               output_action="append_row", compute_target=cluster,
                               node_count=2, process_count_per_node=1, mini_batch_size="2")
    prs = ParallelRunStep("score-on-ray", config, inputs=[files.as_named_input("docs")],
                          output=OutputFileDatasetConfig("scores"))
    rc = RunConfiguration()
    rc.docker.arguments = ["--memory=300m", "--cpus=0.5"]
    limits = PythonScriptStep("limits.py", name="limits", source_directory=str(src),
                              runconfig=rc, compute_target=cluster)
    limits.run_after(prs)
    run = Pipeline(workspace, [prs, limits]).submit("prs-on-ray")
    status = run.wait_for_completion(show_output=False, raise_on_error=False)
    steps = {s.name: s for s in run.get_steps()}
    assert status == "Finished", {name: (workspace._store.get_run(s.id).error, s.get_job_log())
                                  for name, s in steps.items()}
    step = steps["score-on-ray"]
    target = tmp_path / "got"
    step.get_output_data("scores").download(str(target))
    found = sorted(p for p in target.rglob("*") if p.is_file())
    assert [p.name for p in found] == ["parallel_run_step.txt"], found
    rows = [line.split() for line in found[0].read_text().splitlines()]
    assert sorted(r[0] for r in rows) == names                    # complete, each once
    assert [r[1] for r in rows] == ["0"] * 8 + ["1"] * 8          # both ranks, rank order
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    node_of_rank = {r[1]: r[2] for r in rows}
    assert len({r[2] for r in rows}) == 2 and {r[2] for r in rows} <= alive, node_of_rank
    log = step.get_job_log()
    assert "node 1 of 2 (host" in log and "job succeeded on 2 nodes" in log
    assert "items: 16 succeeded, 0 failed; on 2 nodes" in log
    names_kept = set(step.get_file_names())
    for expected in ("logs/job_result.txt", "logs/sys/master_role.txt",
                     "logs/sys/node/node1/agent_role.txt",
                     "logs/user/stdout/node0/process000.stdout.txt",
                     "logs/user/stdout/node1/process000.stdout.txt"):
        assert expected in names_kept, sorted(names_kept)
    limits_log = steps["limits"].get_job_log()
    assert f"memory {300 * 1024 ** 2}" in limits_log
    assert "cpu 50000 100000" in limits_log
