"""The metric benchmarks of issue 11: logging at speed and reading at scale.

- ``log-metrics``: a 1-step pipeline whose script logs 10,000 values with ``run.log("m", i)``
  and polls ``run.get_metrics()`` (through the step's run service, as a user's script would)
  until all 10,000 are visible; the script prints the elapsed time, read here from the step's
  log. Baseline, measured alternately in the same run: mlflow's ``mlflow.log_metric("m", i)``
  loop of 10,000 calls against a SQLite tracking store in a temporary folder, until
  ``MlflowClient().get_metric_history`` shows them all, in the bench's mlflow virtualenv.
- ``metrics-scale``: ``Run.get_metrics()`` of a run holding 1,000 / 10,000 / 100,000 /
  1,000,000 values (written straight to the store in bulk, outside the timing), on the host and
  through a run service client; the figure is the time per value at 1,000,000 over the time per
  value at 1,000 (a call that returns every value cannot take constant time). Also
  ``get_metrics(name="other")`` of one small metric in a run that holds 1,000,000 values of
  another, which must stay flat in absolute terms.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

from harness import BenchError, Result, bench_home, median, quiet, submit_and_wait, write_script

VALUES = 10_000
SCALE_SIZES = (1_000, 10_000, 100_000, 1_000_000)
SCALE_REPEATS = {1_000: 9, 10_000: 7, 100_000: 5, 1_000_000: 3}   # x the row's repeats / 3
OTHER_VALUES = 10         # the small metric next to the big one
LOG_TARGET_S = 0.5
LOG_TARGET_RATIO = 20.0
SCALE_TARGET = 2.0

LOG_SCRIPT = '''
"""Log N values, then poll get_metrics() until all are visible; print the times."""
import sys
import time

from azureml.core import Run

n = int(sys.argv[1])
run = Run.get_context()
t0 = time.perf_counter()
for i in range(n):
    run.log("m", i)
t_logged = time.perf_counter()
polls = 0
while True:
    polls += 1
    seen = run.get_metrics(name="m").get("m", [])
    if isinstance(seen, list) and len(seen) >= n:
        break
t_seen = time.perf_counter()
print(f"AMLBENCH_METRICS seconds={t_seen - t0:.6f} log_loop={t_logged - t0:.6f} "
      f"visible={t_seen - t_logged:.6f} polls={polls} values={len(seen)}")
'''
_LOG_LINE = re.compile(r"AMLBENCH_METRICS seconds=([\d.]+) log_loop=([\d.]+) "
                       r"visible=([\d.]+) polls=(\d+) values=(\d+)")

MLFLOW_SCRIPT = '''
"""mlflow's log_metric loop against a SQLite tracking store, until get_metric_history shows
every value; prints the times."""
import sys
import time

import mlflow
from mlflow.tracking import MlflowClient

n, uri = int(sys.argv[1]), sys.argv[2]
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("bench-log-metrics")
client = MlflowClient(uri)
with mlflow.start_run():                   # warm-up: the store made, the code paths taken
    for i in range(int(sys.argv[3])):
        mlflow.log_metric("warm", i)
with mlflow.start_run() as run:
    t0 = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("m", i)
    t_logged = time.perf_counter()
    while len(client.get_metric_history(run.info.run_id, "m")) < n:
        pass
    t_seen = time.perf_counter()
print(f"AMLBENCH_MLFLOW seconds={t_seen - t0:.6f} log_loop={t_logged - t0:.6f} "
          f"visible={t_seen - t_logged:.6f}", flush=True)
'''
_MLFLOW_LINE = re.compile(r"AMLBENCH_MLFLOW seconds=([\d.]+) log_loop=([\d.]+) visible=([\d.]+)")


# -- 1. 10,000 run.log calls in a step ------------------------------------------------------
def parse_log_line(text: str, where: str) -> dict:
    """The step's ``AMLBENCH_METRICS`` line as numbers. Raises BenchError when it is missing or
    shows fewer values than were logged."""
    match = _LOG_LINE.search(text or "")
    if not match:
        tail = " | ".join(line for line in (text or "").splitlines()[-5:] if line.strip())
        raise BenchError(f"no AMLBENCH_METRICS line {where}: {tail or 'empty log'}")
    seconds, loop, visible, polls, values = match.groups()
    return {"seconds": float(seconds), "log_loop": float(loop), "visible": float(visible),
            "polls": int(polls), "values": int(values)}


def parse_mlflow_lines(text: str) -> list[dict]:
    return [{"seconds": float(a), "log_loop": float(b), "visible": float(c)}
            for a, b, c in _MLFLOW_LINE.findall(text or "")]


def _mlflow_round(python: Path, folder: Path, values: int, warm: int = 100) -> dict:
    """One measurement of the mlflow loop in a new process, after ``warm`` untimed calls in
    another run of the same new SQLite store (its import and store creation are not timed)."""
    script = folder / "mlflow_log.py"
    script.write_text(textwrap.dedent(MLFLOW_SCRIPT).lstrip("\n"))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "GIT_PYTHON_REFRESH": "quiet"}
    done = subprocess.run([str(python), str(script), str(values), uri, str(warm)],
                          capture_output=True, text=True, check=False, cwd=folder, env=env,
                          timeout=3600)
    found = parse_mlflow_lines(done.stdout)
    if done.returncode != 0 or len(found) != 1:
        tail = [ln for ln in done.stderr.splitlines() if ln.strip()][-3:]
        raise BenchError(f"the mlflow loop exited {done.returncode}: {' | '.join(tail)}")
    return found[0]


def log_metrics(repeats: int = 3, values: int = VALUES) -> Result:
    from studio_cases import ensure_mlflow
    result = Result(
        "log-metrics", f"{values:,} run.log calls in a step until visible in get_metrics()",
        "s", f"< {LOG_TARGET_S} s and >= {LOG_TARGET_RATIO:.0f}x faster than mlflow",
        baseline_label=f"mlflow.log_metric loop of {values:,} calls, SQLite tracking store, "
                       "until MlflowClient().get_metric_history shows them all")
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    ours, theirs, parts = [], [], []
    with bench_home("log-metrics") as (ws, root):
        src = root / "src"
        write_script(src, "log_metrics.py", LOG_SCRIPT)
        step = PythonScriptStep("log_metrics.py", name="log", source_directory=str(src),
                                arguments=[str(values)], allow_reuse=False)
        pipeline = Pipeline(ws, [step])
        submit_and_wait(pipeline, "bench-log-metrics")            # warm-up: image, runtime
        try:
            python = ensure_mlflow(result.notes) / "bin" / "python"
        except BenchError as exc:
            python = None
            result.notes.append(f"mlflow baseline not measured: {exc}")
        for _ in range(repeats):                                  # alternately
            timed = submit_and_wait(pipeline, "bench-log-metrics")
            step_run = timed.steps()[0]
            found = parse_log_line(step_run.get_job_log(), f"in step run {step_run.id}")
            if found["values"] < values:
                raise BenchError(f"step run {step_run.id} saw {found['values']} values")
            stored = step_run.get_metrics(name="m").get("m", [])
            if not isinstance(stored, list) or len(stored) != values:
                raise BenchError(f"step run {step_run.id} holds {len(stored)} values, not "
                                 f"{values}")
            ours.append(found["seconds"])
            parts.append(found)
            if python is not None:
                folder = Path(tempfile.mkdtemp(prefix="mlflow-", dir=root))
                theirs.append(_mlflow_round(python, folder, values)["seconds"])
                shutil.rmtree(folder, ignore_errors=True)
    result.amlocal = median(ours)
    result.samples = {"amlocal_s": [round(x, 4) for x in ours],
                      "baseline_s": [round(x, 3) for x in theirs]}
    breakdown = {k: round(median([p[k] for p in parts]), 4)
                 for k in ("log_loop", "visible", "polls")}
    result.details = {"breakdown_median_s": breakdown}
    if theirs:
        result.baseline = median(theirs)
        result.ratio = result.amlocal / result.baseline
        speedup = result.baseline / result.amlocal
        result.met = result.amlocal < LOG_TARGET_S and speedup >= LOG_TARGET_RATIO
        result.details["speedup"] = round(speedup, 1)
        result.details["cells"] = {"amlocal": f"{result.amlocal:.3f} s ({speedup:,.0f}x faster)",
                                   "baseline": f"{result.baseline:.2f} s"}
        result.notes.append(f"amlocal is {speedup:.0f}x faster than mlflow's loop (ratio column: "
                            "amlocal / mlflow)")
    else:
        result.met = result.amlocal < LOG_TARGET_S
    result.notes.append(
        f"where the time goes (median s): {values:,} run.log calls {breakdown['log_loop']:.3f}, "
        f"then until get_metrics() shows them all {breakdown['visible']:.3f} "
        f"({breakdown['polls']:.0f} poll(s): the buffered values are sent, stored, read back "
        "and shaped)")
    return result


# -- 2. get_metrics() at scale ---------------------------------------------------------------
def fill_run(store, run_id: str, values: int, name: str = "m", chunk: int = 100_000) -> None:
    """``values`` scalar records of ``name`` written straight to the store, in chunks."""
    from amlocal.store.entities import MetricRecord, utcnow
    stamp = utcnow()
    for start in range(0, values, chunk):
        store.log_metrics(run_id, [MetricRecord(name=name, kind="scalar", value=float(i),
                                                step=i, created_at=stamp)
                                   for i in range(start, min(values, start + chunk))])


def _time_call(fn, expect: int, repeats: int, cpu: list | None = None) -> list[float]:
    """Wall times of ``repeats`` calls; their CPU times (this process, every thread: the run
    service here is in-process) are appended to ``cpu`` when given."""
    times = []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        got = fn()
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
        if expect and got != expect:
            raise BenchError(f"get_metrics returned {got} values, not {expect}")
    return times


def _count(shaped: dict, name: str) -> int:
    value = shaped.get(name)
    return len(value) if isinstance(value, list) else int(value is not None)


def metrics_scale(repeats: int = 3, sizes: tuple = SCALE_SIZES) -> Result:
    result = Result(
        "metrics-scale", "get_metrics() of a run with 1,000 .. 1,000,000 values: time per value",
        "s", f"per value at {sizes[-1]:,} <= {SCALE_TARGET:.0f}x per value at {sizes[0]:,}",
        baseline_label=f"the same call on a run with {sizes[0]:,} values (per value)")
    from amlocal.core import Experiment, Run
    from amlocal.runservice import RemoteStore, RunService
    curve_host, curve_client, cpu_host, per_value, other = {}, {}, {}, {}, {}
    with bench_home("metrics-scale") as (ws, root):
        experiment = Experiment(ws, "bench-metrics-scale")
        store = ws._store
        runs = {}
        with quiet():
            for size in sizes:
                run = experiment.start_logging(snapshot_directory=None)
                fill_run(store, run.id, size)
                if size == sizes[-1]:
                    fill_run(store, run.id, OTHER_VALUES, name="other")
                run.complete()
                runs[size] = run.id
        folder = tempfile.mkdtemp(prefix="amlms-", dir="/tmp")   # a short socket path
        try:
            with RunService(store, socket_path=os.path.join(folder, "run.sock")) as service:
                for size in sizes:
                    n = max(1, SCALE_REPEATS.get(size, 3) * repeats // 3)
                    host_run = Run(experiment, runs[size])
                    cpu: list = []
                    host = _time_call(lambda: _count(host_run.get_metrics(), "m"), size, n,
                                      cpu)
                    cpu_host[size] = median(cpu)
                    remote = RemoteStore(service.url, service.grant(runs[size]))
                    client = _time_call(
                        lambda: _count(_shaped_through(remote, runs[size]), "m"), size, n)
                    curve_host[size], curve_client[size] = median(host), median(client)
                    per_value[size] = {"host_s": round(median(host), 5),
                                       "client_s": round(median(client), 5)}
                big = runs[sizes[-1]]
                host_run = Run(experiment, big)
                remote = RemoteStore(service.url, service.grant(big))
                small = Run(experiment, runs[sizes[0]])
                n = max(3, repeats)
                other["host_s"] = median(_time_call(
                    lambda: _count(host_run.get_metrics(name="other"), "other"), OTHER_VALUES,
                    n * 3))
                other["client_s"] = median(_time_call(
                    lambda: _count(_shaped_through(remote, big, "other"), "other"),
                    OTHER_VALUES, n * 3))
                other["small_run_host_s"] = median(_time_call(
                    lambda: _count(small.get_metrics(), "m"), sizes[0], n * 3))
                small_remote = RemoteStore(service.url, service.grant(runs[sizes[0]]))
                other["small_run_client_s"] = median(_time_call(
                    lambda: _count(_shaped_through(small_remote, runs[sizes[0]]), "m"),
                    sizes[0], n * 3))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    first, last = sizes[0], sizes[-1]
    result.baseline = curve_host[first] / first
    result.amlocal = curve_host[last] / last
    result.ratio = result.amlocal / result.baseline
    client_ratio = (curve_client[last] / last) / (curve_client[first] / first)
    cpu_ratio = (cpu_host[last] / last) / (cpu_host[first] / first)
    # flat in absolute terms: one small metric next to 1M values costs at most the target
    # ratio x reading a whole 1,000-value run
    other_flat = (other["host_s"] <= SCALE_TARGET * other["small_run_host_s"]
                  and other["client_s"] <= SCALE_TARGET * other["small_run_client_s"])
    result.met = result.ratio <= SCALE_TARGET and client_ratio <= SCALE_TARGET and other_flat
    result.samples = {"host_s": {k: round(v, 5) for k, v in curve_host.items()},
                      "client_s": {k: round(v, 5) for k, v in curve_client.items()},
                      "host_cpu_s": {k: round(v, 5) for k, v in cpu_host.items()}}
    result.details = {
        "cells": {"amlocal": f"{result.amlocal * 1e6:.2f} us/value at {last:,}",
                  "baseline": f"{result.baseline * 1e6:.2f} us/value at {first:,}"},
        "per_size_median_s": per_value, "client_ratio": round(client_ratio, 2),
        "host_cpu_ratio": round(cpu_ratio, 2),
        "other_metric_s": {k: round(v, 5) for k, v in other.items()},
        "curve": {"title": "get_metrics() of one run", "x_label": "values in the run",
                  "y_label": "seconds (median)",
                  "series": {"host Run.get_metrics()": [[x, round(y, 5)]
                                                        for x, y in curve_host.items()],
                             "step client (run service)": [[x, round(y, 5)]
                                                           for x, y in curve_client.items()]}},
    }
    result.notes.append(
        "a call that returns every value cannot take constant time: the figure is the time "
        f"per value at {last:,} values against {first:,} (target <= {SCALE_TARGET:.0f}x); "
        f"through a step's run service client the same ratio is {client_ratio:.2f}x; in CPU "
        f"time (host, unaffected by other work on the machine) {cpu_ratio:.2f}x")
    result.notes.append("median s per size: " + ", ".join(
        f"{size:,}: host {v['host_s']:.4f} / client {v['client_s']:.4f}"
        for size, v in per_value.items()))
    result.notes.append(
        f"get_metrics(name='other') ({OTHER_VALUES} values) in the run that also holds "
        f"{last:,} values of 'm': host {other['host_s'] * 1000:.2f} ms, client "
        f"{other['client_s'] * 1000:.2f} ms; get_metrics() of the {first:,}-value run: host "
        f"{other['small_run_host_s'] * 1000:.2f} ms, client "
        f"{other['small_run_client_s'] * 1000:.2f} ms: "
        + ("flat" if other_flat else
           f"NOT flat (target <= {SCALE_TARGET:.0f}x the {first:,}-value run): the store reads "
           "the run's rows by run id and filters the name (an index on (run_id, name) of the "
           "metrics table makes it flat)"))
    return result


def _shaped_through(remote, run_id: str, name: str | None = None) -> dict:
    """What a step's ``run.get_metrics(name)`` computes: the values through the run service,
    shaped as Azure's ``get_metrics``."""
    from amlocal.core._metrics import shape_metric_values
    columns = remote.get_metric_columns(run_id, name=name)
    return shape_metric_values(columns.names, columns.kinds, columns.values)


BENCHMARKS = {"log-metrics": log_metrics, "metrics-scale": metrics_scale}
WHAT = {
    "log-metrics": (f"{VALUES:,} run.log calls in a step until visible", "s",
                    f"< {LOG_TARGET_S} s and >= {LOG_TARGET_RATIO:.0f}x faster than mlflow"),
    "metrics-scale": ("get_metrics() at 1M values: time per value vs 1,000", "s",
                      f"per value <= {SCALE_TARGET:.0f}x"),
}
DEFAULT_REPEATS = {"log-metrics": 3, "metrics-scale": 3}
NO_DOCKER = {"metrics-scale"}
