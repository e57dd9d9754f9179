"""The Ray benchmarks of issue 12: per-step dispatch on a Ray cluster against the local Docker
target, and a ParallelRunStep over 2 nodes against 1 node.

Both start a two-node ``ray.cluster_utils.Cluster`` on this machine (each node 1 CPU and an
explicit 2 GiB, so the two nodes together use the machine's 2 cores; ``AMLOCAL_BENCH_RAY_CPUS``
sets the CPUs per node where a machine has more) and attach it as a ``RayCompute`` target.

* ``ray-dispatch``: a chain of ``CHAIN`` sequential ``pass`` steps (``run_after`` edges,
  ``allow_reuse=False``) on the Ray target and the same chain on the local Docker target,
  alternately. The figure is one step's time as the store records it (Preparing to its end, the
  median over the chain's steps but its first, whose time also holds the runner's connection to
  the cluster, reported apart); the baseline the same on Docker. Target: Ray <= 1.1 x Docker +
  50 ms.
* ``ray-prs-nodes``: a ParallelRunStep of ``BATCHES`` CPU-bound mini-batches (``run()`` spins
  ``SPIN`` CPU seconds of pure-Python arithmetic per file, one file per mini-batch,
  ``process_count_per_node=1``) with ``node_count=2`` against ``node_count=1`` on the same
  target: submit to completion, alternately. The figure is the throughput ratio (1-node time /
  2-node time). Target >= 1.7x where the cores allow: with 2 cores and 2 one-CPU nodes the
  machine allows at most 2x, minus the second container's start and the host's combining.
  Also reported: the same ratio inside the containers (the driver's own time), and what the
  machine allowed meanwhile (the same CPU work in 1 vs 2 host processes).
"""
from __future__ import annotations

import os
import re
import time

from harness import BenchError, Result, bench_home, epoch, median, quiet, submit_and_wait, \
    write_script

GIB = 1024 ** 3
CHAIN = 6
BATCHES = 24
SPIN = 1.0
PRS_TARGET = 1.7
SPIN_SCRIPT = '''
import os, time

def run(mini_batch):
    out = []
    for path in mini_batch:
        end = time.process_time() + {spin}
        n = 0
        while time.process_time() < end:      # CPU-bound: pure Python arithmetic
            n += sum(i * i for i in range(1000))
        out.append(os.path.basename(path) + " " + os.environ.get("AMLOCAL_NODE_RANK", "0"))
    return out
'''


class _Cluster:
    """A two-node Ray cluster on this machine for the duration of a benchmark."""

    def __enter__(self):
        try:
            import ray  # noqa: F401
            from ray.cluster_utils import Cluster
        except ImportError as exc:
            raise BenchError(f"the Ray benchmarks need the ray package: {exc}") from None
        cpus = int(os.environ.get("AMLOCAL_BENCH_RAY_CPUS", "1"))
        with quiet():
            self.cluster = Cluster(initialize_head=True, head_node_args={
                "num_cpus": cpus, "memory": 2 * GIB})
            self.cluster.add_node(num_cpus=cpus, memory=2 * GIB)
            self.cluster.wait_for_nodes()
        self.cpus = cpus
        return self

    def __exit__(self, *exc):
        import ray
        from amlocal.compute import ray as ray_backend
        ray.shutdown()
        ray_backend._connected_to = None
        ray_backend._remote_cache.clear()
        self.cluster.shutdown()


def _attach(ws, address: str, name: str = "ray-bench"):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import RayCompute
    with quiet():
        return ComputeTarget.attach(ws, name, RayCompute.attach_configuration(address=address))


def _chain(ws, src, target):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    steps = [PythonScriptStep("noop.py", name=f"s{i}", source_directory=str(src),
                              compute_target=target, allow_reuse=False) for i in range(CHAIN)]
    for before, after in zip(steps, steps[1:]):
        after.run_after(before)
    return Pipeline(ws, steps)


def _step_times(timed) -> list[float]:
    """Each step's Preparing-to-end seconds, in chain order."""
    found = {}
    for s in timed.steps():
        info = s._refresh()
        if info.started_at and info.ended_at:
            found[s.name] = epoch(info.ended_at) - epoch(info.started_at)
    return [found[f"s{i}"] for i in range(CHAIN) if f"s{i}" in found]


def ray_dispatch(repeats: int = 3) -> Result:
    result = Result(
        "ray-dispatch", f"one `pass` step on a 2-node Ray cluster (a chain of {CHAIN}, "
        "median step run but the first)", "s", "ray <= 1.1 x docker + 50 ms",
        baseline_label="the same chain on the local Docker target, alternately")
    with _Cluster() as c, bench_home("ray-dispatch") as (ws, root):
        src = root / "src"
        write_script(src, "noop.py", "pass\n")
        ray_target = _attach(ws, c.cluster.address)
        on_ray, on_docker = _chain(ws, src, ray_target), _chain(ws, src, None)
        submit_and_wait(on_docker, "bench-ray-dispatch", timeout=600)      # warm-up
        submit_and_wait(on_ray, "bench-ray-dispatch", timeout=600)
        ray_steps, docker_steps, firsts, walls = [], [], [], {"ray": [], "docker": []}
        for _ in range(repeats):
            timed = submit_and_wait(on_ray, "bench-ray-dispatch", timeout=600)
            times = _step_times(timed)
            firsts.append(times[0])
            ray_steps += times[1:]
            walls["ray"].append(timed.wall)
            timed = submit_and_wait(on_docker, "bench-ray-dispatch", timeout=600)
            docker_steps += _step_times(timed)[1:]
            walls["docker"].append(timed.wall)
    result.amlocal, result.baseline = median(ray_steps), median(docker_steps)
    result.ratio = result.amlocal / result.baseline
    result.met = result.amlocal <= 1.1 * result.baseline + 0.05
    first = median(firsts)
    result.samples = {"ray_step_s": _r(ray_steps), "docker_step_s": _r(docker_steps),
                      "ray_first_step_s": _r(firsts), "ray_wall_s": _r(walls["ray"]),
                      "docker_wall_s": _r(walls["docker"])}
    result.details = {"chain": CHAIN, "ray_first_step_median_s": round(first, 3),
                      "ray_wall_median_s": round(median(walls["ray"]), 3),
                      "docker_wall_median_s": round(median(walls["docker"]), 3)}
    result.notes.append(
        f"a step on Ray {result.amlocal:.3f} s vs {result.baseline:.3f} s on Docker "
        f"(+{1000 * (result.amlocal - result.baseline):.0f} ms); the allowance is "
        f"{1000 * (0.1 * result.baseline + 0.05):.0f} ms")
    result.notes.append(
        f"the chain's first step on Ray took {first:.2f} s: it also holds the runner process's "
        f"connection to the cluster (once per run); whole chain {median(walls['ray']):.2f} s on "
        f"Ray vs {median(walls['docker']):.2f} s on Docker")
    return result


def _prs(ws, src, docs, target, nodes: int):
    from amlocal.core import Environment
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunConfig, ParallelRunStep
    config = ParallelRunConfig(
        environment=Environment("bench-ray-prs"), entry_script="spin.py",
        source_directory=str(src), error_threshold=0, output_action="append_row",
        compute_target=target, node_count=nodes, process_count_per_node=1, mini_batch_size=1)
    step = ParallelRunStep(name=f"spin-{nodes}", parallel_run_config=config,
                           inputs=[docs.as_named_input("docs")],
                           output=OutputFileDatasetConfig(f"spun{nodes}"), allow_reuse=False)
    return Pipeline(ws, [step])


_SHARE = re.compile(r"(?:job succeeded|finished its share) in ([\d.]+) s")


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        sum(i * i for i in range(1000))


def _host_scaling() -> tuple[float, float]:
    """What this machine allows right now: the same CPU work (BATCHES x SPIN CPU seconds) in
    one process, then split over two processes at once, on the host. Returns (1, 2) seconds."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    timings = []
    for count in (1, 2):
        start = time.perf_counter()
        procs = [ctx.Process(target=_spin, args=(BATCHES * SPIN / count,)) for _ in range(count)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        timings.append(time.perf_counter() - start)
    return timings[0], timings[1]


def _check(timed, nodes: int) -> float:
    """Check the job processed every mini-batch (on 2 copies when ``nodes`` is 2); returns the
    driver's own time (the slowest copy's): the job inside the containers, without the pipeline
    run, the connection and the container starts around it."""
    log = timed.steps()[0].get_job_log()
    if f"items: {BATCHES} succeeded, 0 failed" not in log:
        raise BenchError(f"the {nodes}-node ParallelRunStep did not process {BATCHES} files: "
                         f"{log.strip().splitlines()[-3:]}")
    if nodes > 1 and "node 1 of 2" not in log:
        raise BenchError("the 2-node ParallelRunStep did not run a second copy")
    found = [float(x) for x in _SHARE.findall(log)]
    if len(found) != nodes:
        raise BenchError(f"expected {nodes} driver time(s) in the step log, found {found}")
    return max(found)


def ray_prs_nodes(repeats: int = 2) -> Result:
    result = Result(
        "ray-prs-nodes", f"ParallelRunStep, {BATCHES} CPU-bound mini-batches of {SPIN} s, "
        "node_count=2 vs 1 on a 2-node Ray cluster: throughput ratio", "s",
        f"ratio >= {PRS_TARGET}",
        baseline_label="node_count=1 on the same target (time(1 node) / time(2 nodes))")
    with _Cluster() as c, bench_home("ray-prs") as (ws, root):
        from amlocal.core import Dataset, Datastore
        lake = root / "lake" / "docs"
        lake.mkdir(parents=True)
        for i in range(BATCHES):
            (lake / f"b{i:03d}.txt").write_text(str(i))
        src = root / "src"
        write_script(src, "spin.py", SPIN_SCRIPT.replace("{spin}", str(SPIN)))
        with quiet():
            store = Datastore.register(ws, "benchlake", url=str(root / "lake"))
        docs = Dataset.File.from_files((store, "docs"))
        target = _attach(ws, c.cluster.address)
        one, two = _prs(ws, src, docs, target, 1), _prs(ws, src, docs, target, 2)
        _check(submit_and_wait(one, "bench-ray-prs", timeout=900), 1)         # warm-up
        walls, inside = {1: [], 2: []}, {1: [], 2: []}
        for _ in range(repeats):
            for nodes, pipeline in ((2, two), (1, one)):
                timed = submit_and_wait(pipeline, "bench-ray-prs", timeout=900)
                inside[nodes].append(_check(timed, nodes))
                walls[nodes].append(timed.wall)
        cpus = c.cpus
        host1, host2 = _host_scaling()
    t1, t2 = median(walls[1]), median(walls[2])
    result.amlocal, result.baseline = t2, t1
    result.ratio = t1 / t2
    result.met = result.ratio >= PRS_TARGET
    result.samples = {"two_nodes_s": _r(walls[2]), "one_node_s": _r(walls[1]),
                      "two_nodes_driver_s": _r(inside[2]), "one_node_driver_s": _r(inside[1])}
    d1, d2 = median(inside[1]), median(inside[2])
    work = BATCHES * SPIN
    result.details = {"batches": BATCHES, "spin_s": SPIN, "cpus_per_node": cpus,
                      "host_cpus": os.cpu_count(), "one_node_s": round(t1, 3),
                      "two_nodes_s": round(t2, 3), "driver_ratio": round(d1 / d2, 2),
                      "host_one_process_s": round(host1, 3),
                      "host_two_processes_s": round(host2, 3),
                      "host_ratio": round(host1 / host2, 2),
                      "ideal_ratio_after_fixed_costs": round(t1 / (t1 - work / 2), 2)
                      if t1 > work / 2 else None}
    result.notes.append(
        f"1 node {t1:.2f} s, 2 nodes {t2:.2f} s: {result.ratio:.2f}x the throughput; "
        f"{work:.0f} s of CPU work in all, so 1 node spends {t1 - work:.1f} s and 2 nodes "
        f"{t2 - work / 2:.1f} s besides it (pipeline run, container starts, combining)")
    result.notes.append(
        f"inside the containers (the driver, the slowest copy): 1 node {d1:.2f} s, 2 nodes "
        f"{d2:.2f} s: {d1 / d2:.2f}x")
    result.notes.append(
        f"what this machine allowed meanwhile: the same {work:.0f} CPU seconds on the host took "
        f"{host1:.1f} s in one process and {host2:.1f} s split over two at once: "
        f"{host1 / host2:.2f}x (other work shares its cores)")
    result.notes.append(
        f"this machine: {os.cpu_count()} cores, 2 Ray nodes of {cpus} CPU each, so 2x is the "
        "most 2 nodes can give; machines with more cores: AMLOCAL_BENCH_RAY_CPUS")
    return result


def _r(values, digits: int = 3) -> list:
    return [round(v, digits) for v in values]


BENCHMARKS = {"ray-dispatch": ray_dispatch, "ray-prs-nodes": ray_prs_nodes}
WHAT = {"ray-dispatch": ("one pass step on Ray vs local Docker", "s",
                         "ray <= 1.1 x docker + 50 ms"),
        "ray-prs-nodes": ("ParallelRunStep 2 nodes vs 1, CPU-bound", "s",
                          f"ratio >= {PRS_TARGET}")}
DEFAULT_REPEATS = {"ray-dispatch": 3, "ray-prs-nodes": 2}
