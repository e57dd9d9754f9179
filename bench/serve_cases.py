"""The ``model-webservice`` benchmark of issue 11: a model deployed with ``Model.deploy`` to a
LocalWebservice against ``mlflow models serve`` of the same regression, one-row requests from the
same load generator (:mod:`loadgen`: threads, one keep-alive ``http.client`` connection each,
127.0.0.1 only), alternately, in the same run.

Our side is what an Azure ML v1 user writes: a scikit-learn ``LinearRegression`` pickled with
joblib and registered with ``Model.register``, an entry script whose ``init()`` loads it from
``AZUREML_MODEL_DIR`` and whose ``run(raw_data)`` predicts the rows of ``{"data": [[25.0]]}``
(Azure's documented entry script), an ``InferenceConfig`` with an environment holding
scikit-learn, and ``Model.deploy(..., LocalWebservice.deploy_configuration())``. mlflow's side is
the same regression saved with ``mlflow.sklearn`` and served with ``--env-manager local`` (see
:func:`studio_cases.start_mlflow`).
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

from harness import BenchError, Result, bench_home, quiet
from loadgen import CONCURRENCY, container_pids
from studio_cases import (MLFLOW_WORKERS, REQUESTS, TARGET, Endpoint, race_mlflow,
                          training_rows)

SERVICE_NAME = "bench-model"
ENTRY_SCRIPT = '''
import json
import os

import joblib
import numpy as np


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"))


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"], dtype=float)
    return model.predict(data).tolist()
'''
TRAIN = '''
import sys

import joblib
import numpy as np
from sklearn.linear_model import LinearRegression

rows = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
joblib.dump(LinearRegression().fit(rows[:, :1], rows[:, 1]), sys.argv[2])
'''
PACKAGES = ["scikit-learn", "joblib", "numpy"]


def deploy_model(ws, root: Path):
    """Register the regression and deploy it. Returns the LocalWebservice. The model is fitted
    in the service's own image (the host Python need not have scikit-learn): a one-off step."""
    from amlocal.core import Environment, Model
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.model import InferenceConfig
    from amlocal.core.webservice import LocalWebservice
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "score.py").write_text(textwrap.dedent(ENTRY_SCRIPT).lstrip())
    env = Environment("bench-inference")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=PACKAGES)
    model_file = fit_in_image(ws, root, env)
    with quiet():
        model = Model.register(ws, str(model_file), "bench-regression")
        service = Model.deploy(ws, SERVICE_NAME, [model],
                               InferenceConfig(entry_script="score.py", source_directory=str(app),
                                               environment=env),
                               LocalWebservice.deploy_configuration())
        service.wait_for_deployment()
    return service


def fit_in_image(ws, root: Path, env) -> Path:
    """Fit the regression with a ScriptRun in the environment's image; returns model.pkl."""
    from amlocal.core import Experiment, ScriptRunConfig
    src = root / "train"
    src.mkdir(parents=True, exist_ok=True)
    (src / "train.py").write_text(TRAIN)
    (src / "train.csv").write_text("surface,price\n" + "".join(
        f"{s},{p}\n" for s, p in training_rows()))
    config = ScriptRunConfig(source_directory=str(src), script="train.py",
                             arguments=["train.csv", "outputs/model.pkl"], environment=env)
    with quiet():
        run = Experiment(ws, "bench-model-train").submit(config)
        run.wait_for_completion(show_output=False)
    if run.get_status() != "Completed":
        raise BenchError(f"fitting the model failed ({run.get_status()}); "
                         f"amlocal run show {run.id}")
    target = root / "model"
    run.download_file("outputs/model.pkl", str(target / "model.pkl"))
    return target / "model.pkl"


def model_webservice(repeats: int = 3, requests: int = REQUESTS, concurrency: int = CONCURRENCY,
                     mlflow_workers: int = MLFLOW_WORKERS) -> Result:
    result = Result(
        "model-webservice", f"one-row request to a Model.deploy LocalWebservice (init()/run() "
        f"entry script): {requests} requests, {concurrency} keep-alive connections", "ms", TARGET,
        baseline_label=f"mlflow models serve --env-manager local --workers {mlflow_workers}, "
                       "the same regression")
    with bench_home("model-webservice") as (ws, root):
        def deploy():
            service = deploy_model(ws, root)
            ours = Endpoint("amlocal", service.scoring_uri, {"data": [[25.0]]}, {},
                            lambda answer: answer[0])
            ours.groups = lambda: model_processes(ws, ours.port)
            return service, ours
        return race_mlflow(result, root, deploy, "the model", repeats, requests, concurrency,
                           mlflow_workers)


def model_processes(ws, port: int) -> dict:
    """The processes of our model service: its container's and the engine's port proxy (the
    userland proxy the engine starts for a published port, when it does)."""
    import subprocess
    done = subprocess.run(["docker", "ps", "-q", "--filter", f"label=amlocal.webservice={SERVICE_NAME}",
                           "--filter", f"label=amlocal.workspace_id={ws._id}"],
                          capture_output=True, text=True, check=False)
    scoring = [pid for cid in done.stdout.split() for pid in container_pids(cid)]
    proxies = []
    for entry in os.listdir("/proc"):
        try:
            argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"docker-proxy") and str(port).encode() in argv:
            proxies.append(int(entry))
    return {"scoring container (HTTP, run())": scoring,
            **({"docker-proxy (the engine's port forwarder)": proxies} if proxies else {})}


BENCHMARKS = {"model-webservice": model_webservice}
WHAT = {"model-webservice": ("one-row requests to a Model.deploy LocalWebservice", "ms", TARGET)}
DEFAULT_REPEATS = {"model-webservice": 3}
