"""The four benchmarks of issue 3, section 6. Each returns a :class:`harness.Result`.

Every benchmark measures its baseline in the same run as its figure, after one warm-up run in
its own temporary home (locking the environment, copying the runtime, checking the image), and
takes the median of ``repeats`` measurements. Steps that are timed repeatedly say
``allow_reuse=False``, so that step reuse never turns a measurement into a cache hit; only the
resubmit benchmark relies on the default ``allow_reuse=True``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

from harness import (BenchError, Result, Timed, bare_runs_at_once, bench_home, container_events,
                     epoch, first_event, median, reused_from, starts_for_pipeline_run,
                     submit_and_wait, timed_command, write_script)

SLEEP_SECONDS = 3.0
READ_PASSES = 5      # passes over the file per measurement; the median pass counts
CHUNK = 8 * 1024 * 1024
READ_SCRIPT = '''
"""Read a file in 8 MB chunks, several passes; print the median pass (MB = 10**6 bytes)."""
import argparse
import statistics
import time

p = argparse.ArgumentParser()
p.add_argument("--path", required=True)
p.add_argument("--passes", type=int, default=5)
a = p.parse_args()
buf = bytearray(8 * 1024 * 1024)
times = []
for _ in range(a.passes):
    total = 0
    start = time.perf_counter()
    with open(a.path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            total += n
    times.append(time.perf_counter() - start)
seconds = statistics.median(times)
passes = ",".join(f"{total / t / 1e6:.0f}" for t in times)
print(f"AMLBENCH_READ bytes={total} seconds={seconds:.6f} mbps={total / seconds / 1e6:.1f} "
      f"passes={passes}")
'''
STEP_SCRIPT = '''
"""A trivial step: read what the upstream steps wrote, write one small file."""
import argparse
import os

p = argparse.ArgumentParser()
p.add_argument("--inp", action="append", default=[])
p.add_argument("--out", required=True)
a = p.parse_args()
seen = sum(len(os.listdir(d)) for d in a.inp)
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "done.txt"), "w") as f:
    f.write(f"read {seen} files\\n")
'''
_READ_LINE = re.compile(
    r"AMLBENCH_READ bytes=(\d+) seconds=([\d.]+) mbps=([\d.]+) passes=([\d,]+)")


def _steps_module():
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    return Pipeline, PythonScriptStep


def warm_up(ws, root: Path) -> Timed:
    """One trivial run in this home: the environment is locked, the runtime copied and the
    image found (or built) before anything is timed. Its script is not used by any benchmark,
    so it seeds no reuse."""
    Pipeline, PythonScriptStep = _steps_module()
    src = root / "warmup"
    write_script(src, "warmup.py", "print('warm')\n")
    step = PythonScriptStep("warmup.py", name="warmup", source_directory=str(src),
                            allow_reuse=False)
    return submit_and_wait(Pipeline(ws, [step]), "bench-warmup")


# -- 1. per-step overhead ---------------------------------------------------------------------
def per_step_overhead(repeats: int = 5) -> Result:
    result = Result(
        "overhead", "1-step pipeline, script `pass`: submit() -> wait_for_completion()", "s",
        "ratio <= 1.2", baseline_label="docker run --rm <image> python -c pass")
    Pipeline, PythonScriptStep = _steps_module()
    with bench_home("overhead") as (ws, root):
        src = root / "src"
        write_script(src, "noop.py", "pass\n")
        step = PythonScriptStep("noop.py", name="noop", source_directory=str(src),
                                allow_reuse=False)
        pipeline = Pipeline(ws, [step])
        warm = submit_and_wait(pipeline, "bench-overhead")
        image = warm.steps()[0].properties.get("amlocal.image")
        if not image:
            raise BenchError(f"step run of {warm.run.id} has no amlocal.image property")
        bare_cmd = ["docker", "run", "--rm", image, "python", "-c", "pass"]
        timed_command(bare_cmd)                       # warm the bare path as well
        ours, bare, phases = [], [], []
        for _ in range(repeats):                      # interleaved: both see the same load
            timed = submit_and_wait(pipeline, "bench-overhead")
            ours.append(timed.wall)
            phases.append(_phases(timed))
            bare.append(timed_command(bare_cmd))
    result.amlocal, result.baseline = median(ours), median(bare)
    result.ratio = result.amlocal / result.baseline
    result.met = result.ratio <= 1.2
    result.samples = {"amlocal_s": _r(ours), "baseline_s": _r(bare)}
    breakdown = _median_phases(phases)
    result.details = {"image": image, "breakdown_median_s": breakdown}
    result.notes.append(_breakdown_note(breakdown))
    return result


def _phases(timed: Timed) -> dict:
    """Consecutive intervals of one run, from the host clock, the store's timestamps and the
    engine's container events (first container in, last container out). Points that did not
    happen (no container in a fully reused run) are left out."""
    run = timed.run._refresh()
    steps = [s._refresh() for s in timed.steps()]
    events = container_events(timed.t_submit - 1.0, time.time(),
                              f"amlocal.pipeline_run_id={timed.run.id}")
    started = [epoch(s.started_at) for s in steps if s.started_at]
    ended = [epoch(s.ended_at) for s in steps if s.ended_at]
    exits = [e["time"] for e in events if e["action"] == "die"]
    points = [
        ("submit", timed.t_submit),
        ("submit() returned", timed.t_submitted),
        ("runner started", epoch(run.started_at)),
        ("first step preparing", min(started, default=None)),
        ("first container created", first_event(events, "create")),
        ("first container started", first_event(events, "start")),
        ("last container exited", max(exits, default=None)),
        ("last step ended", max(ended, default=None)),
        ("run ended", epoch(run.ended_at)),
        ("wait returned", timed.t_done),
    ]
    points = [(name, t) for name, t in points if t is not None]
    return {f"{a} -> {b}": round(tb - ta, 4) for (a, ta), (b, tb) in pairwise(points)}


def _median_phases(phases: list[dict]) -> dict:
    names = list(dict.fromkeys(name for p in phases for name in p))
    return {name: round(median([p[name] for p in phases if name in p]), 3) for name in names}


def _breakdown_note(breakdown: dict) -> str:
    return "where the time goes (median s):\n" + "\n".join(
        f"      {value:6.2f}  {name}" for name, value in breakdown.items())


# -- 2. unchanged resubmit --------------------------------------------------------------------
def unchanged_resubmit(repeats: int = 3) -> Result:
    result = Result(
        "resubmit", "unchanged resubmit of a 5-step DAG with PipelineData edges "
        "(allow_reuse=True): submit -> done",
        "s", "< 0.1 s, 0 containers", baseline_label="first submission (runs every step)")
    from amlocal.pipeline.core import PipelineData
    Pipeline, PythonScriptStep = _steps_module()
    with bench_home("resubmit") as (ws, root):
        warm_up(ws, root)
        src = root / "src"
        write_script(src, "step.py", STEP_SCRIPT)
        # a -> (b, c) -> d -> e, every edge a PipelineData: amlocal reuses only steps that
        # declare outputs (a step without outputs always runs, for its side effects)
        edges = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"]}
        data = {name: PipelineData(f"{name}_out") for name in edges}
        steps = {}
        for name, upstream in edges.items():
            args = [a for u in upstream for a in ("--inp", data[u])] + ["--out", data[name]]
            steps[name] = PythonScriptStep("step.py", name=name, source_directory=str(src),
                                           arguments=args, inputs=[data[u] for u in upstream],
                                           outputs=[data[name]])
        pipeline = Pipeline(ws, list(steps.values()))
        first = submit_and_wait(pipeline, "bench-resubmit")
        first_starts = len(starts_for_pipeline_run(first))
        walls, starts, reused, phases = [], [], [], []
        for _ in range(repeats):
            timed = submit_and_wait(pipeline, "bench-resubmit")
            walls.append(timed.wall)
            phases.append(_phases(timed))
            starts.append(len(starts_for_pipeline_run(timed)))
            reused.append(sum(1 for s in timed.steps() if reused_from(s)))
            reasons = {s.name: ((s._refresh().definition or {}).get("reuse") or {}).get("reason")
                       for s in timed.steps() if not reused_from(s)}
    result.amlocal, result.baseline = median(walls), first.wall
    result.ratio = result.amlocal / result.baseline
    result.met = result.amlocal < 0.1 and max(starts) == 0
    result.samples = {"amlocal_s": _r(walls), "baseline_s": _r([first.wall])}
    breakdown = _median_phases(phases)
    result.details = {"second_submission_s": round(walls[0], 3),
                      "containers_started_first": first_starts,
                      "containers_started_per_resubmit": starts,
                      "steps_reused_per_resubmit": reused,
                      "breakdown_median_s": breakdown}
    result.notes.append(
        f"containers started: first run {first_starts}, resubmits {starts}; steps reused "
        f"(of 5) per resubmit: {reused}")
    result.details["why_steps_ran_last_resubmit"] = reasons
    for name, reason in reasons.items():
        result.notes.append(f"step {name} ran on the last resubmit: "
                            f"{reason or 'no reuse decision recorded (no step reuse in this build)'}")
    result.notes.append(_breakdown_note(breakdown))
    return result


# -- 3. four parallel sleeps ------------------------------------------------------------------
def parallel_sleeps(repeats: int = 3) -> Result:
    result = Result(
        "parallel", f"4 independent steps, each sleeping {SLEEP_SECONDS:g} s: pipeline wall time",
        "s", "ratio <= 1.1",
        baseline_label=f"4 bare `docker run --rm` of the same {SLEEP_SECONDS:g} s sleep, "
                       "started at once")
    Pipeline, PythonScriptStep = _steps_module()
    with bench_home("parallel") as (ws, root):
        warm = warm_up(ws, root)
        image = warm.steps()[0].properties.get("amlocal.image")
        src = root / "src"
        write_script(src, "sleep.py", f"import time\ntime.sleep({SLEEP_SECONDS})\n")
        steps = [PythonScriptStep("sleep.py", name=f"sleep{i}", source_directory=str(src),
                                  allow_reuse=False) for i in range(1, 5)]
        pipeline = Pipeline(ws, steps)
        walls, bare, spreads, phases = [], [], [], []
        for _ in range(repeats):                      # interleaved: both see the same load
            timed = submit_and_wait(pipeline, "bench-parallel")
            walls.append(timed.wall)
            phases.append(_phases(timed))
            times = [e["time"] for e in starts_for_pipeline_run(timed)]
            spreads.append(max(times) - min(times) if len(times) == 4 else None)
            bare.append(bare_runs_at_once(image, 4, f"import time; time.sleep({SLEEP_SECONDS})"))
    result.amlocal, result.baseline = median(walls), median(bare)
    result.ratio = result.amlocal / result.baseline
    result.met = result.ratio <= 1.1
    result.samples = {"amlocal_s": _r(walls), "baseline_s": _r(bare)}
    breakdown = _median_phases(phases)
    result.details = {"container_start_spread_s": _r([s for s in spreads if s is not None]),
                      "max_parallel_steps": os.environ.get("AMLOCAL_MAX_PARALLEL_STEPS", "4"),
                      "image": image, "breakdown_median_s": breakdown}
    known = [s for s in spreads if s is not None]
    if known:
        result.notes.append(f"first to last of the 4 container starts (median): "
                            f"{median(known):.2f} s")
    result.notes.append(_breakdown_note(breakdown))
    return result


# -- 4. reading through as_mount() ------------------------------------------------------------
def mount_read(repeats: int = 5, size_mb: int = 1024) -> Result:
    result = Result(
        "mount-read", f"read a {size_mb} MiB file via as_mount() from a file:// datastore, "
        f"8 MB chunks, median of {READ_PASSES} passes, inside the step", "MB/s", "ratio >= 0.9",
        baseline_label="the same code on the host")
    from amlocal.core import Dataset, Datastore
    Pipeline, PythonScriptStep = _steps_module()
    with bench_home("mount") as (ws, root):
        lake = root / "lake"
        big = lake / "big.bin"
        try:
            _write_file(big, size_mb)
            warm_up(ws, root)
            src = root / "src"
            script = write_script(src, "read.py", READ_SCRIPT)
            store = Datastore.register(ws, "benchlake", url=lake.as_uri())
            data = Dataset.File.from_files([(store, "big.bin")]).as_mount()
            step = PythonScriptStep("read.py", name="read",
                                    arguments=["--path", data, "--passes", READ_PASSES],
                                    source_directory=str(src), allow_reuse=False)
            pipeline = Pipeline(ws, [step])
            host_cmd = [sys.executable, str(script), "--path", str(big),
                        "--passes", str(READ_PASSES)]
            _host_read(host_cmd)                        # fills the page cache
            _step_read(submit_and_wait(pipeline, "bench-mount"), size_mb)   # warm-up run
            ours, host, walls, our_passes, host_passes = [], [], [], [], []
            for _ in range(repeats):                    # interleaved, both from the page cache
                host.append(_host_read(host_cmd, host_passes))
                timed = submit_and_wait(pipeline, "bench-mount")
                ours.append(_step_read(timed, size_mb, our_passes))
                walls.append(timed.wall)
            mode = [d.get("mode") for d in timed.steps()[0]._refresh().definition
                    .get("inputDatasets", [])]
        finally:
            big.unlink(missing_ok=True)
    result.amlocal, result.baseline = median(ours), median(host)
    result.ratio = result.amlocal / result.baseline
    result.met = result.ratio >= 0.9
    result.samples = {"amlocal_mbps": _r(ours, 1), "baseline_mbps": _r(host, 1),
                      "amlocal_passes_mbps": our_passes, "baseline_passes_mbps": host_passes,
                      "step_run_wall_s": _r(walls)}
    result.details = {"input_modes": mode, "file_bytes": size_mb * 1024 * 1024,
                      "page_cache": "warm for both (read once before timing; nothing dropped)"}
    result.notes.append("both read from the page cache: the file was read once on the host and "
                        "once in a warm-up step before any timed read; no cache was dropped")
    return result


def _write_file(path: Path, size_mb: int) -> None:
    """``size_mb`` MiB of incompressible bytes (one random 8 MiB block repeated): real blocks on
    disk, not a sparse file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        for _ in range(size_mb * 1024 * 1024 // CHUNK):
            f.write(block)
        rest = size_mb * 1024 * 1024 % CHUNK
        if rest:
            f.write(block[:rest])


def _parse_read(text: str, where: str) -> tuple[int, float, list[float]]:
    """(bytes per pass, median MB/s, MB/s of every pass) from the read script's output."""
    match = _READ_LINE.search(text)
    if not match:
        raise BenchError(f"the read script printed no AMLBENCH_READ line {where}: "
                         f"{text.strip()[-300:]!r}")
    passes = [float(x) for x in match.group(4).split(",")]
    return int(match.group(1)), float(match.group(3)), passes


def _host_read(cmd: list[str], passes: list | None = None) -> float:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"host read failed: {done.stderr.strip()[-300:]}")
    _, mbps, each = _parse_read(done.stdout, "on the host")
    if passes is not None:
        passes.append(each)
    return mbps


def _step_read(timed: Timed, size_mb: int, passes: list | None = None) -> float:
    step = timed.steps()[0]
    total, mbps, each = _parse_read(step.get_job_log(), f"in step run {step.id}")
    if total != size_mb * 1024 * 1024:
        raise BenchError(f"the step read {total} bytes, expected {size_mb * 1024 * 1024}")
    if passes is not None:
        passes.append(each)
    return mbps


def _r(values, digits: int = 3) -> list:
    return [round(v, digits) for v in values]


BENCHMARKS = {
    "overhead": per_step_overhead,
    "resubmit": unchanged_resubmit,
    "parallel": parallel_sleeps,
    "mount-read": mount_read,
}
