"""Run lists as the store grows (issue 11: "`amlocal run list` / `get_runs()` / the page's run
list with 10,000 runs in the store: flat, <= 2x the time with 100 runs").

``store-scale``: one store grows from 100 to 1,000 to 10,000 top-level runs, written straight
to it in bulk (no containers): each a Finished (one in 9 Failed) pipeline run with 5 step runs,
tags, properties and a definition of a few KB, as the engine records them, so 10,000 runs are
60,000 records. At each size every listing is timed (median of ``repeats``, after one warm-up):

- ``amlocal run list``: the CLI in-process (click's runner, so Python's start-up is not in it),
  its default table;
- ``get_runs() first 100``: ``itertools.islice(Experiment(ws, name).get_runs(), 100)``: what a
  user looks at (``get_runs`` is a generator, newest first, as on Azure); the whole generator
  is timed too (``get_runs() all``, a curve only: it yields every run, so it grows with them);
- ``read API``: ``GET /api/v1/workspaces/{ws}/runs`` (its default page of 100) and
  ``page list``: ``GET /api/v1/page/workspaces/{ws}/runs`` (the studio page's first 50), both
  from a real ``python -m amlocal.server`` on a free loopback port (a fresh connection per
  request: see :class:`Client`).

The figure is the worst ratio, over the listings, of the time at 10,000 runs to the time at 100
(target <= 2); ``details["curve"]`` holds every listing's time per size.
"""
from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import BenchError, Result, bench_home, median, quiet

SIZES = (100, 1_000, 10_000)
STEPS = 5
TARGET = 2.0
EXPERIMENT = "scale"
LISTINGS = ("amlocal run list", "get_runs() first 100", "read API", "page list")
CURVE_ONLY = ("get_runs() all",)


# -- the store -----------------------------------------------------------------------------
def _stamp(seconds: int) -> str:
    from datetime import datetime, timedelta
    return (datetime(2026, 1, 1) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pipeline_definition(i: int) -> dict:
    """A pipeline run's definition as the engine records one: a 5-step graph (a few KB)."""
    steps = []
    for s in range(STEPS):
        steps.append({
            "id": f"node{s}", "name": f"step_{s}", "script_name": f"step_{s}.py",
            "snapshot": {"digest": f"{(i * 7 + s) % 997:064x}", "files": 12},
            "environment": {"name": "train-env", "version": "3",
                            "conda_dependencies": ["python=3.11", "pandas", "scikit-learn"]},
            "compute": {"name": "local", "kind": "docker"},
            "arguments": ["--input", f"in_{s}", "--rate", "0.1", "--output", f"out_{s}"],
            "inputs": [{"name": f"in_{s}", "type": "output" if s else "dataset",
                        "data": f"out_{s - 1}" if s else "raw-data:3"}],
            "outputs": [{"name": f"out_{s}", "kind": "pipeline_data",
                         "datastore": "workspaceblobstore",
                         "path": "azureml/{run-id}/{output-name}"}],
            "depends_on": [f"node{s - 1}"] if s else [], "allow_reuse": True})
    return {"graph": {"steps": steps, "parameters": {"rate": 0.1, "epochs": 10}},
            "parameters": {"rate": 0.1}, "continue_on_step_failure": False}


def _step_definition(i: int, s: int) -> dict:
    return {"node_id": f"node{s}", "script": f"step_{s}.py",
            "arguments": ["--input", f"in_{s}", "--output", f"out_{s}"],
            "reuse": {"decision": "ran", "key": f"{i * 31 + s:064x}",
                      "reason": "no earlier run with these inputs", "changed": [],
                      "components": {"parameters": {"rate": "0.1"},
                                     "snapshot": f"{(i * 7 + s) % 997:064x}",
                                     "environment": f"{s:064x}"}},
            "inputDatasets": [{"name": f"in_{s}", "mode": "mount", "files": 40,
                               "dataset_id": f"{s:032x}", "content_digest": f"{i:064x}"}]}


def add_runs(store, workspace_id: str, start: int, count: int) -> None:
    """Write ``count`` pipeline runs (numbers ``start``...), each with its 5 step runs, in one
    transaction, straight to the store's table."""
    from amlocal.store import schema as t
    from amlocal.store.entities import RunInfo
    rows = []
    for i in range(start, start + count):
        base = i * 60
        status = "Failed" if i % 9 == 0 else "Finished"
        run_id = f"pipe_{i:06d}"
        props = {"azureml.runsource": "azureml.PipelineRun", "amlocal.submitted_via": "sdk",
                 "azureml.pipelineComponent": "pipelinerun", "amlocal.runner_pid": ""}
        rows.append(RunInfo(
            id=run_id, workspace_id=workspace_id, experiment=EXPERIMENT, kind="pipeline",
            status=status, name=f"nightly {i}", created_at=_stamp(base),
            started_at=_stamp(base), ended_at=_stamp(base + 40),
            tags={"team": "risk", "stage": "dev" if i % 2 else "prod", "batch": str(i % 10)},
            properties=props, definition=_pipeline_definition(i),
            error={"message": "step step_3 failed"} if status == "Failed" else None).__dict__)
        for s in range(STEPS):
            rows.append(RunInfo(
                id=f"{run_id}_s{s}", workspace_id=workspace_id, experiment=EXPERIMENT,
                kind="step", status="Finished", name=f"step_{s}", parent_id=run_id,
                created_at=_stamp(base + 1 + s), started_at=_stamp(base + 1 + s),
                ended_at=_stamp(base + 2 + s), tags={"step": str(s)},
                properties={"amlocal.environment_digest": f"{s:064x}",
                            "azureml.runsource": "azureml.StepRun"},
                definition=_step_definition(i, s), reuse_key=f"{i * 31 + s:064x}").__dict__)
    with store._engine.begin() as conn:
        conn.execute(t.runs.insert(), rows)


# -- the server ----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def studio_server(home: str):
    """``python -m amlocal.server`` of ``home`` on a free loopback port: yields its port."""
    port = _free_port()
    env = {**os.environ, "AMLOCAL_HOME": home}
    proc = subprocess.Popen([sys.executable, "-m", "amlocal.server", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise BenchError(f"the studio server exited {proc.returncode}: "
                                 f"{proc.stderr.read()[-300:]}")
            try:                                        # ready: it answers a read
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/api/v1/workspaces")
                if probe.getresponse().status == 200:
                    probe.close()
                    break
                probe.close()
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise BenchError("the studio server did not listen within 60 s") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Client:
    """GETs to the server, each on a fresh connection: on a kept-alive connection the studio
    server's answers stall about 40 ms each (measured here: 45-55 ms against 5-8 ms fresh, at
    any store size), which would hide what the listing costs. ``get`` answers the decoded
    JSON (raises on non-200)."""

    def __init__(self, port: int):
        self.port = port

    def get(self, path: str):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise BenchError(f"GET {path} answered {response.status}: {body[:300]!r}")
        return json.loads(body)

    def close(self) -> None:
        pass


# -- the listings --------------------------------------------------------------------------
def listings(ws, client: Client) -> dict:
    """name -> a function doing that listing once (each checks it saw runs)."""
    from click.testing import CliRunner

    from amlocal.cli import cli
    from amlocal.core import Experiment
    runner = CliRunner()
    cli_args = ["run", "list", "-w", ws.name, "-g", ws.resource_group]

    def run_list():
        done = runner.invoke(cli, cli_args, catch_exceptions=False)
        if done.exit_code != 0 or "pipe_" not in done.output:
            raise BenchError(f"amlocal run list failed: {done.output[-300:]}")

    def first_100():
        runs = list(itertools.islice(Experiment(ws, EXPERIMENT).get_runs(), 100))
        if len(runs) != 100:
            raise BenchError(f"get_runs() gave {len(runs)} runs, not 100")

    def every_run():
        if sum(1 for _ in Experiment(ws, EXPERIMENT).get_runs()) < 100:
            raise BenchError("get_runs() gave fewer runs than the store holds")

    def read_api():
        if not client.get(f"/api/v1/workspaces/{ws._id}/runs")["value"]:
            raise BenchError("the read API listed no runs")

    def page_list():
        if not client.get(f"/api/v1/page/workspaces/{ws._id}/runs")["value"]:
            raise BenchError("the page's list API listed no runs")

    return {"amlocal run list": run_list, "get_runs() first 100": first_100,
            "get_runs() all": every_run, "read API": read_api, "page list": page_list}


def _time(fn) -> float:
    start = time.perf_counter()
    with quiet():
        fn()
    return time.perf_counter() - start


@dataclass
class Sized:
    """One store of ``size`` runs: its home, workspace, server connection and listings."""

    size: int
    home: str
    ws: object
    client: Client
    todo: dict = field(default_factory=dict)


@contextlib.contextmanager
def sized_stores(root: Path, sizes=SIZES):
    """A home per size (its own store of that many runs, its own server): yields
    ``{size: Sized}``. Separate stores let the sizes be measured alternately, so a change of
    load on the machine weighs on every size alike."""
    from amlocal.core import Workspace
    saved = os.environ.get("AMLOCAL_HOME")
    with contextlib.ExitStack() as stack:
        stores = {}
        for size in sizes:
            home = str(root / f"home-{size}")
            os.environ["AMLOCAL_HOME"] = home
            with quiet():
                ws = Workspace("00000000-0000-0000-0000-00000000be9c", "bench-rg", "scale")
                ws._store.ensure_experiment(ws._id, EXPERIMENT)
            for start in range(0, size, 2_000):            # bounded transactions
                add_runs(ws._store, ws._id, start, min(2_000, size - start))
            port = stack.enter_context(studio_server(home))
            client = Client(port)
            stack.callback(client.close)
            stores[size] = Sized(size, home, ws, client)
            stores[size].todo = listings(ws, client)
        try:
            yield stores
        finally:
            if saved is None:
                os.environ.pop("AMLOCAL_HOME", None)
            else:
                os.environ["AMLOCAL_HOME"] = saved


def measure(stores: dict, repeats: int) -> dict:
    """{listing: {size: [seconds, ...]}}: each round times every listing on every store."""
    samples: dict = {}
    for rnd in range(repeats + 1):                      # round 0 warms up
        for size, sized in stores.items():
            os.environ["AMLOCAL_HOME"] = sized.home     # the CLI opens the current home
            for name, fn in sized.todo.items():
                took = _time(fn)
                if rnd:
                    samples.setdefault(name, {}).setdefault(size, []).append(took)
    return samples


def store_breakdown(sized: Sized, repeats: int) -> dict:
    """Median seconds of the store calls behind a list, on the largest store: finding the
    unfinished runs to settle, one page of 100 top-level runs without and with definitions,
    and the count of all of them."""
    from amlocal._status import TERMINAL, RunStatus
    store, ws_id = sized.ws._store, sized.ws._id
    active = [s.value for s in RunStatus if s not in TERMINAL]
    calls = {
        "unfinished runs (to settle)": lambda: store.list_runs(ws_id, statuses=active,
                                                               with_definition=False),
        "page of 100, no definitions": lambda: store.list_runs(
            ws_id, top_level=True, limit=100, with_definition=False),
        "page of 100 with definitions": lambda: store.list_runs(ws_id, top_level=True,
                                                                limit=100),
        "count_runs (top-level)": lambda: store.count_runs(ws_id, top_level=True),
    }
    times: dict = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(_time(call))
    return {name: round(median(xs), 5) for name, xs in times.items()}


def summarize(samples: dict, sizes=SIZES) -> tuple[dict, str, float]:
    """(curve, worst listing, its ratio) from :func:`measure`'s samples."""
    small, large = sizes[0], sizes[-1]
    series = {name: [[size, round(median(by_size[size]) * 1000, 3)] for size in sizes]
              for name, by_size in samples.items()}
    ratios = {name: median(samples[name][large]) / median(samples[name][small])
              for name in samples if name not in CURVE_ONLY}
    worst = max(ratios, key=ratios.get)
    curve = {"title": "run lists as the store grows", "x_label": "top-level runs in the store "
             f"(each with {STEPS} step runs)", "y_label": "ms (median)", "series": series}
    return curve, worst, ratios[worst]


def bench_store_scale(repeats: int) -> Result:
    what, unit, target = WHAT["store-scale"]
    result = Result("store-scale", what, unit, target)
    with bench_home("store-scale") as (_, root):
        with sized_stores(root) as stores:
            samples = measure(stores, repeats)
            breakdown = store_breakdown(stores[SIZES[-1]], repeats)
    curve, worst, ratio = summarize(samples)
    small, large = SIZES[0], SIZES[-1]
    result.amlocal = median(samples[worst][large]) * 1000
    result.baseline = median(samples[worst][small]) * 1000
    result.baseline_label = (f"the same listing ({worst}) with {small:,} runs; the figure is "
                             f"the worst of {', '.join(LISTINGS)}")
    result.ratio = ratio
    result.met = ratio <= TARGET
    result.samples = {f"{name} @ {size}": [round(x * 1000, 3) for x in xs]
                      for name, by_size in samples.items() for size, xs in by_size.items()}
    result.details["curve"] = curve
    result.details["cells"] = {"amlocal": f"{result.amlocal:.1f} ms @ {large:,}",
                               "baseline": f"{result.baseline:.1f} ms @ {small:,}"}
    result.details["breakdown_median_s"] = breakdown
    result.notes.append(f"store calls behind a list at {large:,} runs (median ms): " + ", ".join(
        f"{name} {seconds * 1000:.1f}" for name, seconds in breakdown.items()))
    for name, points in curve["series"].items():
        cells = ", ".join(f"{size:,}: {ms:.1f} ms" for size, ms in points)
        ratio_text = ("" if name in CURVE_ONLY else
                      f" ({median(samples[name][large]) / median(samples[name][small]):.2f}x)")
        result.notes.append(f"{name}: {cells}{ratio_text}")
    return result


BENCHMARKS = {"store-scale": bench_store_scale}
WHAT = {"store-scale": ("run lists with 10,000 runs vs 100 (CLI, get_runs, read API, page)",
                        "ms", "ratio <= 2")}
DEFAULT_REPEATS = {"store-scale": 7}
NO_DOCKER = {"store-scale"}
