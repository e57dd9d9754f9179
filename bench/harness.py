"""What every benchmark shares: a throw-away AMLOCAL_HOME, timed pipeline runs, Docker events.

Each benchmark gets its own temporary ``AMLOCAL_HOME`` (a fresh store, snapshots and locks) but
the machine's one Docker engine, so environment images built by an earlier benchmark, a test run
or a previous ``bench/run.py`` are reused: building an image is not what is measured.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

RUN_TIMEOUT = 180           # seconds a single pipeline run may take before it is canceled
_ENV_KEYS = ("AMLOCAL_HOME", "AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE",
             "AZUREML_RUN_TOKEN")


class BenchError(Exception):
    """A benchmark could not measure its figure (a run failed, Docker is missing, ...)."""


@dataclass
class Result:
    """One row of the table. ``ratio`` is amlocal / baseline in the benchmark's own unit."""

    name: str
    what: str
    unit: str                       # "s" or "MB/s"
    target: str
    amlocal: float | None = None
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    met: bool | None = None
    samples: dict = field(default_factory=dict)     # every measured value, per series
    details: dict = field(default_factory=dict)     # breakdowns, counts, images
    notes: list = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0            # how long the benchmark itself took

    def to_dict(self) -> dict:
        return asdict(self)


def median(values) -> float:
    return float(statistics.median(values))


# -- a temporary home ------------------------------------------------------------------------
@contextlib.contextmanager
def bench_home(name: str):
    """A fresh temporary ``AMLOCAL_HOME`` and workspace for one benchmark.

    Yields ``(workspace, root)``: ``root`` is a scratch folder (the home is ``root/home``) that
    is deleted, with everything in it, on exit. The environment is restored on exit.
    """
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    root = Path(tempfile.mkdtemp(prefix=f"amlocal-bench-{name}-"))
    try:
        for key in _ENV_KEYS:
            os.environ.pop(key, None)
        os.environ["AMLOCAL_HOME"] = str(root / "home")
        from amlocal.core import Workspace
        with quiet():
            ws = Workspace("00000000-0000-0000-0000-00000000be9c", "bench-rg", f"bench-{name}")
        yield ws, root
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def quiet():
    """Swallow the SDK's notices ("Submitted PipelineRun ...", "created local workspace")."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def write_script(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


# -- timed runs ------------------------------------------------------------------------------
@dataclass
class Timed:
    """A finished pipeline run and the host clock around it (``time.time()`` seconds)."""

    run: object
    wall: float            # submit() called -> wait_for_completion() returned
    t_submit: float
    t_submitted: float     # submit() returned
    t_done: float

    def steps(self) -> list:
        return list(self.run.get_steps())


def submit_and_wait(pipeline, experiment: str, timeout: float = RUN_TIMEOUT) -> Timed:
    """Submit ``pipeline`` and wait for it with ``wait_for_completion(show_output=False)``.

    Raises BenchError when the run does not finish (it is canceled after ``timeout``) or ends in
    any state but Finished, with the failing steps' messages.
    """
    t_submit = time.time()
    start = time.perf_counter()
    with quiet():
        run = pipeline.submit(experiment)
    t_submitted = time.time()
    status = run.wait_for_completion(show_output=False, timeout_seconds=timeout,
                                     raise_on_error=False)
    wall = time.perf_counter() - start
    if status not in ("Finished", "Failed", "Canceled", "Completed"):
        run.cancel()
        run.wait_for_completion(show_output=False, timeout_seconds=60, raise_on_error=False)
        raise BenchError(f"pipeline run {run.id} did not finish within {timeout:.0f} s "
                         f"(status {status}); it was canceled")
    if status != "Finished":
        failed = [s for s in run.get_steps() if s.get_status() != "Finished"]
        detail = "; ".join(f"step '{s.name}' {s.get_status()}: "
                           f"{(s._info.error or {}).get('message', '')}"
                           f"{_tail((s._info.error or {}).get('log_tail', ''))}" for s in failed)
        raise BenchError(f"pipeline run {run.id} ended {status}: {detail or 'see its logs'} "
                         f"(amlocal run show {run.id})")
    return Timed(run, wall, t_submit, t_submitted, time.time())


def _tail(text: str) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return f" [{' | '.join(lines[-3:])}]" if lines else ""


def reused_from(step) -> str | None:
    """The run a step reused, from its record or its ``reused_from`` property (whichever the
    runner sets), else None."""
    return getattr(step._info, "reused_from", None) or step.properties.get("reused_from")


def epoch(iso: str | None) -> float | None:
    """The store's ISO-8601 UTC timestamps as ``time.time()`` seconds."""
    if not iso:
        return None
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def timed_command(argv: list[str]) -> float:
    """Run ``argv`` to completion and return its wall time. Raises BenchError when it fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(f"`{' '.join(argv)}` exited {done.returncode}: "
                         f"{done.stderr.strip()[-300:]}")
    return wall


def bare_runs_at_once(image: str, count: int, code: str = "pass") -> float:
    """``count`` bare ``docker run --rm IMAGE python -c CODE`` started at once: the wall time
    until the last one returns. Raises BenchError when one fails."""
    cmd = ["docker", "run", "--rm", image, "python", "-c", code]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(count)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise BenchError(f"bare docker run failed: {err.decode(errors='replace')[-300:]}")
    return time.perf_counter() - start


# -- Docker ----------------------------------------------------------------------------------
def check_docker() -> str:
    """The engine's version. Raises BenchError when the docker CLI or engine is missing."""
    if shutil.which("docker") is None:
        raise BenchError("the docker command is not on PATH; install Docker (scripts/setup.sh)")
    done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"no Docker engine answers: {done.stderr.strip()[:200]} "
                         "(start it, or run scripts/setup.sh)")
    return done.stdout.strip()


def container_events(since: float, until: float, label: str) -> list[dict]:
    """Container events between two ``time.time()`` instants for containers carrying
    ``label`` (``key`` or ``key=value``), oldest first, each as
    ``{"action", "id", "time", "labels"}``. ``until`` must not be in the future (the engine
    would wait for it)."""
    done = subprocess.run(
        ["docker", "events", "--since", f"{since:.6f}", "--until", f"{until:.6f}",
         "--filter", "type=container", "--filter", f"label={label}",
         "--format", "{{json .}}"], capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise BenchError(f"docker events failed: {done.stderr.strip()[:200]}")
    events = []
    for line in done.stdout.splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        events.append({"action": data.get("Action") or data.get("status"),
                       "id": data.get("id") or data.get("Actor", {}).get("ID"),
                       "time": int(data["timeNano"]) / 1e9,
                       "labels": data.get("Actor", {}).get("Attributes", {})})
    return sorted(events, key=lambda e: e["time"])


def starts_for_pipeline_run(timed: Timed) -> list[dict]:
    """The container start events of one pipeline run's steps (the runner labels every step
    container ``amlocal.pipeline_run_id=<run id>``)."""
    events = container_events(timed.t_submit - 1.0, time.time(),
                              f"amlocal.pipeline_run_id={timed.run.id}")
    return [e for e in events if e["action"] == "start"]


def first_event(events: list[dict], action: str) -> float | None:
    return next((e["time"] for e in events if e["action"] == action), None)


def machine() -> dict:
    """Where the figures were measured."""
    import platform
    info = {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average": _loadavg()}
    try:
        info["docker_engine"] = check_docker()
    except BenchError as exc:
        info["docker_engine"] = f"unavailable: {exc}"
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    info["commit"] = done.stdout.strip() if done.returncode == 0 else "unknown"
    dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True, check=False)
    if dirty.returncode == 0 and dirty.stdout.strip():
        info["commit"] += " + uncommitted changes"
    return info


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
