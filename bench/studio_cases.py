"""The two benchmarks of issue 4, section 6: the Studio frame bridge and the pipeline web service.

- ``frame-bridge`` runs 1M rows x 10 columns through the code of
  :mod:`amlocal._runtime.studio` on the host (no container: it measures our code), against a
  plain Parquet write and read of the same frame, alternately in the same run.
- ``webservice`` deploys a one-step scoring pipeline (a scikit-learn model pickled in
  ``dataframe2``) with ``Webservice.deploy_pipeline`` and measures one-row requests with a bounded
  load generator (threads, ``http.client`` keep-alive, 127.0.0.1 only), against
  ``mlflow models serve --env-manager local`` serving the same regression, alternately, in the
  same run. mlflow is installed with pip into its own virtualenv under the temporary folder, never
  into this Python; when it cannot be installed or started, the reason is printed and only our
  figures are reported.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from harness import BenchError, Result, bench_home, median, quiet, submit_and_wait
from loadgen import (CONCURRENCY, answers, container_pids, free_port, load, measured_round,
                     process_tree)

ROWS = 1_000_000
REQUESTS = 2000          # per measured round of the web-service benchmark
WARMUP_REQUESTS = 200
MLFLOW_WORKERS = 1       # mlflow's own default (`mlflow models serve --workers`)
SERVICE_NAME = "bench-score"
MLFLOW_VENV = Path(tempfile.gettempdir()) / "amlocal-bench-mlflow-venv"
MLFLOW_PACKAGES = ["mlflow", "scikit-learn", "pandas"]
SKLEARN_PACKAGES = ["scikit-learn", "pandas", "pyarrow"]
TARGET = "p50 < 5 ms, below mlflow's, >= 2x its req/s"     # issue 11

TRAIN_SCRIPT = '''
import pickle

import pandas as pd
from sklearn.linear_model import LinearRegression


def azureml_main(dataframe1=None, dataframe2=None):
    model = LinearRegression().fit(dataframe1[["surface"]], dataframe1["price"])
    return pd.DataFrame({"model": [pickle.dumps(model)], "coef": [float(model.coef_[0])]}),
'''
SCORE_SCRIPT = '''
import pickle


def azureml_main(dataframe1=None, dataframe2=None):
    model = pickle.loads(dataframe2["model"].iloc[0])
    out = dataframe1.copy()
    out["Scored Labels"] = model.predict(dataframe1[["surface"]])
    return out,
'''
MLFLOW_TRAIN = '''
import sys

import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LinearRegression

data = pd.read_csv(sys.argv[1])
model = LinearRegression().fit(data[["surface"]], data["price"])
mlflow.sklearn.save_model(model, sys.argv[2])
print(float(model.coef_[0]))
'''


# -- 1. the frame bridge ---------------------------------------------------------------------
def make_frame(rows: int = ROWS):
    """``rows`` x 10 columns as a Studio table might hold them: 4 float64, 3 int64, one bool,
    one short string and one timestamp column (deterministic values)."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(4)
    words = np.array(["north", "south", "east", "west", "centre"], dtype=object)
    return pd.DataFrame({
        **{f"f{i}": rng.random(rows) for i in range(4)},
        **{f"i{i}": rng.integers(0, 1_000_000, rows) for i in range(3)},
        "flag": rng.random(rows) < 0.5,
        "region": words[rng.integers(0, len(words), rows)],
        "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 365, rows),
                                                             unit="s"),
    })


def _identity(dataframe1=None, dataframe2=None):
    return dataframe1,


def bridge_once(in_folder: Path, out_folder: Path) -> dict:
    """One pass through the bridge as the runtime makes it: read the input Parquet folder,
    ``prepare_input``, ``call_azureml_main`` (identity), ``check_result``, ``write_result``
    (which applies ``translate_output``). Returns the seconds of each part and ``total``."""
    from amlocal._runtime import studio
    t0 = time.perf_counter()
    frame = studio.read_table_folder(str(in_folder))
    t1 = time.perf_counter()
    frame = studio.prepare_input(frame)
    t2 = time.perf_counter()
    out = studio.check_result(studio.call_azureml_main(_identity, frame))
    t3 = time.perf_counter()
    studio.write_result(out, out_folder)
    t4 = time.perf_counter()
    return {"read_table_folder": t1 - t0, "prepare_input": t2 - t1,
            "call_azureml_main + check_result": t3 - t2,
            "write_result (translate_output + to_parquet)": t4 - t3, "total": t4 - t0}


def plain_once(frame, path: Path) -> float:
    """The baseline: ``to_parquet`` then ``read_parquet`` of the same frame."""
    import pandas as pd
    start = time.perf_counter()
    frame.to_parquet(path, index=False)
    pd.read_parquet(path)
    return time.perf_counter() - start


def frame_bridge(repeats: int = 5, rows: int = ROWS) -> Result:
    result = Result(
        "frame-bridge", f"{rows:,} rows x 10 columns through the Studio bridge (identity "
        "azureml_main): read folder -> prepare -> call -> check -> translate -> write", "s",
        "ratio <= 1.5", baseline_label="plain to_parquet + read_parquet of the same frame")
    import pandas as pd
    from amlocal._runtime import studio
    with tempfile.TemporaryDirectory(prefix="amlocal-bench-bridge-") as tmp:
        root = Path(tmp)
        frame = make_frame(rows)
        (root / "in").mkdir()
        frame.to_parquet(root / "in" / "part-00000.parquet", index=False)   # the upstream output
        first = bridge_once(root / "in", root / "out")                       # warm-up
        back = pd.read_parquet(root / "out" / studio.RESULT_FILE)
        pd.testing.assert_frame_equal(back, frame, check_dtype=True)        # identity really is
        plain_once(frame, root / "plain.parquet")                            # warm-up
        ours, plain, parts = [], [], []
        for _ in range(repeats):                       # interleaved: both see the same load
            parts.append(bridge_once(root / "in", root / "out"))
            ours.append(parts[-1]["total"])
            plain.append(plain_once(frame, root / "plain.parquet"))
        size = (root / "in" / "part-00000.parquet").stat().st_size
    result.amlocal, result.baseline = median(ours), median(plain)
    result.ratio = result.amlocal / result.baseline
    result.met = result.ratio <= 1.5
    result.samples = {"amlocal_s": _r(ours), "baseline_s": _r(plain)}
    breakdown = {name: round(median([p[name] for p in parts]), 3) for name in first}
    result.details = {"rows": rows, "columns": list(frame.columns),
                      "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
                      "parquet_bytes": size, "breakdown_median_s": breakdown,
                      "pandas": pd.__version__}
    result.notes.append(f"round trip checked: the result equals the input ({size / 1e6:.0f} MB "
                        "of Parquet)")
    result.notes.append("where the time goes (median s):\n" + "\n".join(
        f"      {value:6.3f}  {name}" for name, value in breakdown.items()))
    return result


# -- 2. the web service ----------------------------------------------------------------------
def training_rows() -> list[tuple[float, float]]:
    """(surface, price) pairs: a deterministic line with deterministic wobble."""
    return [(float(s), 3000.0 * s + 20000.0 + ((s * 7919) % 1000) - 500.0)
            for s in range(10, 210)]


class Endpoint:
    """One service under load: where to POST, what, and how to read its prediction."""

    def __init__(self, label: str, url: str, body: dict, headers: dict, predict):
        parsed = urllib.parse.urlsplit(url)
        self.label, self.port, self.path = label, parsed.port, parsed.path
        self.body = json.dumps(body).encode()
        self.headers = {"Content-Type": "application/json", **headers}
        self.predict = predict      # response JSON -> the predicted price
        self.groups = dict          # -> {label: [pids]}: the processes that serve it

    def once(self) -> float:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", self.path, self.body, self.headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise BenchError(f"{self.label} answered HTTP {response.status}: {data[:300]!r}")
        return float(self.predict(json.loads(data)))

    def round(self, total: int, concurrency: int) -> dict:
        return load(self.port, self.path, self.body, self.headers, total, concurrency)


def _our_prediction(answer: dict) -> float:
    table = answer["Results"]["output1"]["value"]
    return table["Values"][0][table["ColumnNames"].index("Scored Labels")]


def deploy_ours(ws, root: Path, port: int | None = None):
    """Train in a pipeline run, then deploy the scoring pipeline. Returns ``(service, key)``.
    Raises BenchError when the web service is not in this build or the deployment fails."""
    try:
        import pandas as pd
        from amlocal.core import Dataset, Datastore
        from amlocal.core.conda_dependencies import CondaDependencies
        from amlocal.core.runconfig import RunConfiguration
        from amlocal.core.webservice import Webservice
        from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
        from amlocal.pipeline.steps import ExecutePythonScriptStep
    except ImportError as exc:
        raise BenchError(f"the pipeline web service is not in this build ({exc})") from exc
    if not hasattr(Webservice, "deploy_pipeline"):
        raise BenchError("the pipeline web service is not in this build "
                         "(amlocal.core.webservice.Webservice has no deploy_pipeline)")
    lake = root / "lake"
    lake.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(training_rows(), columns=["surface", "price"]).to_csv(lake / "train.csv",
                                                                       index=False)
    store = Datastore.register(ws, "benchlake", url=lake.as_uri())
    rc = RunConfiguration()
    rc.environment.python.conda_dependencies = CondaDependencies.create(
        pip_packages=SKLEARN_PACKAGES)
    train = ExecutePythonScriptStep(
        TRAIN_SCRIPT, name="train", runconfig=rc, allow_reuse=False,
        dataframe1=Dataset.Tabular.from_delimited_files([(store, "train.csv")]))
    trained = submit_and_wait(Pipeline(ws, [train]), "bench-webservice-train", timeout=900)
    step = trained.steps()[0]
    result = step.get_output_data("result_dataset")
    result.download(str(root / "trained"), show_progress=False)
    folder = root / "trained" / result.path_on_datastore
    model_file = next(folder.rglob("result.parquet"), None)
    if model_file is None:
        raise BenchError(f"the training step {step.id} wrote no result.parquet")
    (lake / "model").mkdir(exist_ok=True)
    (lake / "model" / "model.parquet").write_bytes(model_file.read_bytes())
    model = Dataset.Tabular.from_parquet_files([(store, "model/model.parquet")])
    score = ExecutePythonScriptStep(
        SCORE_SCRIPT, name="score", runconfig=rc,
        dataframe1=WebServiceInput("input1", example=pd.DataFrame({"surface": [25.0]})),
        dataframe2=model)
    pipeline = Pipeline(ws, steps=[score, WebServiceOutput("output1",
                                                           source=score.result_dataset)])
    with quiet():
        published = pipeline.publish("bench-score", description="bench: one-row scoring")
        service = Webservice.deploy_pipeline(ws, SERVICE_NAME, published, port=port)
    primary, _ = service.get_keys()
    return service, primary


def ensure_mlflow(notes: list) -> Path:
    """The virtualenv with mlflow (created on first use, kept under the temporary folder for
    later runs). Raises BenchError saying why when it cannot be made."""
    python = MLFLOW_VENV / "bin" / "python"
    probe = [str(python), "-c", "import mlflow, sklearn; print(mlflow.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return MLFLOW_VENV
    start = time.perf_counter()
    steps = [[sys.executable, "-m", "venv", str(MLFLOW_VENV)],
             [str(python), "-m", "pip", "install", "--quiet", *MLFLOW_PACKAGES]]
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=1200, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"`{' '.join(argv)}` took over 20 minutes") from exc
        if done.returncode != 0:
            tail = [ln for ln in (done.stderr + done.stdout).splitlines()
                    if ln.strip() and "is ignored" not in ln][-4:]
            raise BenchError(f"`{' '.join(argv)}` exited {done.returncode}: {' | '.join(tail)}")
    notes.append(f"mlflow installed into {MLFLOW_VENV} in {time.perf_counter() - start:.0f} s")
    return MLFLOW_VENV


def start_mlflow(root: Path, notes: list, workers: int = MLFLOW_WORKERS):
    """Train the same regression in the mlflow virtualenv, save it with ``mlflow.sklearn`` and
    serve it. Returns ``(process, endpoint, version)``; the caller stops the process."""
    venv = ensure_mlflow(notes)
    python = venv / "bin" / "python"
    work = root / "mlflow"
    work.mkdir(parents=True, exist_ok=True)
    (work / "train.csv").write_text("surface,price\n" + "".join(
        f"{s},{p}\n" for s, p in training_rows()))
    (work / "train.py").write_text(MLFLOW_TRAIN)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "MLFLOW_TRACKING_URI": (work / "mlruns").as_uri()}
    done = subprocess.run([str(python), str(work / "train.py"), str(work / "train.csv"),
                           str(work / "model")], capture_output=True, text=True, cwd=work,
                          env=env, timeout=300, check=False)
    if done.returncode != 0:
        raise BenchError(f"saving the mlflow model failed: {done.stderr.strip()[-300:]}")
    version = subprocess.run([str(python), "-c", "import mlflow; print(mlflow.__version__)"],
                             capture_output=True, text=True, env=env, check=False).stdout.strip()
    port = free_port()
    log = open(work / "serve.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(work / "model"),
         "-h", "127.0.0.1", "-p", str(port), "--env-manager", "local",
         "--workers", str(workers)],
        stdout=log, stderr=subprocess.STDOUT, cwd=work, env=env, start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop(proc)
            text = (work / "serve.log").read_text(errors="replace").strip().splitlines()
            raise BenchError(f"`mlflow models serve` exited {proc.returncode}: "
                             f"{' | '.join(text[-4:])}")
        if answers(port, "/ping"):
            break
        time.sleep(0.25)
    else:
        stop(proc)
        raise BenchError("`mlflow models serve` did not answer /ping within 180 s")
    endpoint = Endpoint(f"mlflow {version}", f"http://127.0.0.1:{port}/invocations",
                        {"dataframe_split": {"columns": ["surface"], "data": [[25.0]]}}, {},
                        lambda answer: answer["predictions"][0])
    endpoint.groups = lambda: {"mlflow (its server and uvicorn worker)": process_tree(proc.pid)}
    return proc, endpoint, version


def stop(proc) -> None:
    """End the mlflow server we started: its own process group (it started its workers)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=20)
    log = getattr(proc, "log", None)
    if log is not None:
        log.close()


def race_mlflow(result: Result, root: Path, deploy, what: str, repeats: int, requests: int,
                concurrency: int, mlflow_workers: int) -> Result:
    """Deploy our service with ``deploy()`` -> (service, :class:`Endpoint`), start mlflow's,
    send each one request and the warm-up, then ``repeats`` rounds alternating between them (both
    see the same load); both are stopped at the end. A side that cannot start is reported in the
    row, the other is still measured. Returns :func:`judge`'s row."""
    samples: dict = {"ours": [], "mlflow": []}
    cpu: dict = {"ours": [], "mlflow": []}
    ours_error = mlflow_error = None
    service = proc = ours = None
    version = "?"
    predictions: dict = {}
    started = time.perf_counter()
    try:
        try:
            service, ours = deploy()
        except BenchError as exc:
            ours_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - the deployment's own errors, as a row
            ours_error = f"deploying {what} failed: {type(exc).__name__}: {exc}"
        deployed = time.perf_counter() - started
        try:
            proc, theirs, version = start_mlflow(root, result.notes, mlflow_workers)
        except BenchError as exc:
            theirs, mlflow_error = None, str(exc)
        endpoints = [e for e in (ours, theirs) if e is not None]
        predictions = {e.label: e.once() for e in endpoints}
        for e in endpoints:
            e.round(WARMUP_REQUESTS, concurrency)
        for _ in range(repeats):            # interleaved: both see the same load
            for e in endpoints:
                side = "ours" if e is ours else "mlflow"
                run, used = measured_round(lambda: e.round(requests, concurrency), e.groups())
                samples[side].append(run)
                cpu[side].append(used)
    finally:
        if proc is not None:
            stop(proc)
        if service is not None:
            with quiet():
                service.delete()
    return judge(result, samples, predictions, ours_error, mlflow_error, version,
                 {"requests_per_round": requests, "concurrency": concurrency,
                  "mlflow_workers": mlflow_workers, "cpus": os.cpu_count(),
                  "deploy_s": round(deployed, 1), "cpu_us_per_request": cpu_medians(cpu)})


def webservice(repeats: int = 3, requests: int = REQUESTS, concurrency: int = CONCURRENCY,
               mlflow_workers: int = MLFLOW_WORKERS) -> Result:
    result = Result(
        "webservice", f"one-row request to a 1-step scoring pipeline service: {requests} "
        f"requests, {concurrency} keep-alive connections", "ms", TARGET,
        baseline_label=f"mlflow models serve --env-manager local --workers {mlflow_workers}, "
                       "the same regression")
    with bench_home("webservice") as (ws, root):
        def deploy():
            service, key = deploy_ours(ws, root)
            ours = Endpoint("amlocal", service.scoring_uri,
                            {"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [["25"]]}},
                             "GlobalParameters": {}},
                            {"Authorization": f"Bearer {key}"}, _our_prediction)
            ours.groups = lambda: pipeline_processes(ws)
            return service, ours
        return race_mlflow(result, root, deploy, "the service", repeats, requests, concurrency,
                           mlflow_workers)


def pipeline_processes(ws) -> dict:
    """The processes of our pipeline service: the host front and the worker container's."""
    from amlocal._engine.served import SERVICE_FILE, endpoint, folder_of
    folder = folder_of(ws._id, SERVICE_NAME)
    spec = json.loads((Path(folder) / SERVICE_FILE).read_text())
    workers = [pid for node in spec["nodes"] for pid in container_pids(node["container"])]
    return {"host front (HTTP, typing, answer)": [endpoint(folder)["pid"]],
            f"worker container ({len(workers)} processes: the step's code)": workers}


def cpu_medians(cpu: dict) -> dict:
    """``{side: {group: median CPU us per request}}`` of the rounds' measurements."""
    return {side: {g: round(median([r[g] for r in rounds if g in r]))
                   for g in rounds[0]} for side, rounds in cpu.items() if rounds}


def judge(result: Result, samples: dict, predictions: dict, ours_error, mlflow_error,
          version: str, details: dict) -> Result:
    """Fill ``result`` from the rounds: medians, cells, notes, ratio and met (issue 11's
    target, :data:`TARGET`: p50 < 5 ms, p50 below mlflow's, req/s >= 2x mlflow's)."""
    result.samples = samples
    result.details = {**details, "predictions_for_surface_25": predictions}
    if len(predictions) == 2:
        a, b = predictions.values()
        result.notes.append(f"both predict {a:,.2f} for surface 25"
                            if abs(a - b) <= 1e-6 * max(1.0, abs(a))
                            else f"the predictions differ: {predictions}")
    figures = {k: _median_round(v) for k, v in samples.items() if v}
    result.details["median_rounds"] = figures
    for k, f in figures.items():
        label = "amlocal" if k == "ours" else f"mlflow {version}"
        result.notes.append(f"{label}: p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms, "
                            f"{f['rps']:,.0f} req/s (median of {len(samples[k])} rounds; "
                            f"{sum(r['failed'] for r in samples[k])} requests failed, "
                            f"{sum(r['reconnects'] for r in samples[k])} reconnects in all)")
    for side, groups in (details.get("cpu_us_per_request") or {}).items():
        label = "amlocal" if side == "ours" else f"mlflow {version}"
        result.notes.append(f"where the time goes, {label} (CPU us per request, median of the "
                            "rounds): " + ", ".join(f"{g} {v}" for g, v in groups.items()))
    if "mlflow" in figures:
        result.baseline = figures["mlflow"]["p50_ms"]
        result.details["cells"] = {"baseline": _cell(figures["mlflow"])}
    else:
        result.baseline_label = f"mlflow not measured: {mlflow_error}"
        result.notes.append(f"mlflow not measured: {mlflow_error}")
    if ours_error:
        result.error = ours_error
        return result
    f = figures["ours"]
    result.amlocal = f["p50_ms"]
    result.details.setdefault("cells", {})["amlocal"] = _cell(f)
    fast = f["p50_ms"] < 5
    if "mlflow" in figures:
        m = figures["mlflow"]
        result.ratio = f["p50_ms"] / m["p50_ms"]
        below, double = f["p50_ms"] < m["p50_ms"], f["rps"] >= 2 * m["rps"]
        result.met = fast and below and double
        result.notes.append(f"targets: p50 < 5 ms {'yes' if fast else 'no'}, p50 below mlflow's "
                            f"{'yes' if below else 'no'}, >= 2x mlflow's req/s "
                            f"{'yes' if double else 'no'} ({f['rps'] / m['rps']:.2f}x)")
    else:
        result.met = False
        result.notes.append("not met: no mlflow figure to compare with")
    return result


def _median_round(rounds: list[dict]) -> dict:
    return {k: median([r[k] for r in rounds]) for k in rounds[0]}


def _cell(f: dict) -> str:
    return f"p50 {f['p50_ms']:.2f} ms, {f['rps']:,.0f} req/s"


def _r(values, digits: int = 3) -> list:
    return [round(v, digits) for v in values]


BENCHMARKS = {
    "frame-bridge": frame_bridge,
    "webservice": webservice,
}
