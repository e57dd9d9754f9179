"""Azure ML v1 programs, written the way the public v1 samples are written, run unchanged through
``python -m amlocal.compat``: their ``azureml`` imports, notebooks' habits (config.json, a
ComputeTargetException to create a cluster, RunDetails, ``source_directory='.'``) and all.

Each program lives in ``tests/e2e/v1_programs/<name>/`` and runs in a copy of its folder with
a fresh AMLOCAL_HOME; the test checks its exit status and the lines it prints.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).resolve().parent / "v1_programs"


def _run(name: str, tmp_path: Path, timeout: int = 900) -> str:
    work = tmp_path / name
    shutil.copytree(PROGRAMS / name, work)
    env = {k: v for k, v in os.environ.items()
           if k not in ("AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AMLOCAL_STORE_URL")}
    env["AMLOCAL_HOME"] = str(tmp_path / "home")
    env["AMLOCAL_STUDIO_PORT"] = "0"  # publish() starts the home's studio server: a free port
    try:
        done = subprocess.run([sys.executable, "-m", "amlocal.compat", "program.py"], cwd=work,
                              env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        if (tmp_path / "home" / "studio" / "server.json").exists():
            from amlocal._engine import studio
            from amlocal._settings import Settings
            studio.stop(Settings(home=tmp_path / "home", store_url=""))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


@pytest.mark.usefixtures("docker_engine")
def test_getting_started_pipelines(tmp_path):
    out = _run("getting_started", tmp_path)
    assert "SDK version: 1.61.0" in out
    assert "creating new compute target" in out
    assert "'currentNodeCount'" in out                      # get_status().serialize()
    assert "Script: train_step status: Finished" in out
    assert "ORDER ['train_step', 'compare_step', 'extract_step']" in out
    assert "DONE Finished Finished" in out


@pytest.mark.usefixtures("docker_engine")
def test_manage_runs(tmp_path):
    out = _run("manage_runs", tmp_path)
    assert "AFTER COMPLETE Completed" in out
    assert "Is it still running? Running" in out and "Has it completed? Completed" in out
    assert "Hello Azure ML!" in out and "SCRIPT STATUS Completed" in out
    assert "PROPERTY KEPT:" in out
    assert "FOUND BY DICT True" in out and "FOUND BY NAME True" in out
    assert "CHILDREN 5 Completed" in out
    assert "CHILD STATUSES ['Completed']" in out
    assert "Did the run cancel? Canceled" in out
    assert "FAILED Failed" in out
    assert "SNAPSHOT HAS hello.py True True" in out


def test_logging_api(tmp_path):
    out = _run("logging_api", tmp_path, timeout=300)
    assert "SIGMOID COUNT 20 MAGIC 42" in out
    assert "'Cosine Wave'" in out and "'Sine Wave'" in out and "'Hyperbolic Tangent'" in out
    assert "myfile_in_the_cloud.txt" in out
    assert "DOWNLOADED" in out and "myfile_in_the_cloud.txt" in out.split("DOWNLOADED", 1)[1]


@pytest.mark.usefixtures("docker_engine")
def test_datapath_parameters_and_data_references(tmp_path):
    out = _run("datapath_parameters", tmp_path)
    assert "Sample string argument  : sample_string1" in out
    assert "Sample string argument  : sample_string2" in out
    assert "DATAPATH FILES ['news.txt']" in out
    assert "PUBLISHED DataPath_Pipeline Active" in out
    assert "compared 2 lines" in out
    assert "DONE Finished Finished Finished" in out


@pytest.mark.usefixtures("docker_engine")
def test_dataset_parameters(tmp_path):
    out = _run("dataset_parameters", tmp_path)
    assert "ROWS 3 COLUMNS ['PassengerId', 'Survived', 'Name']" in out
    assert "ROWS 2 COLUMNS ['sepal_length', 'sepal_width', 'species']" in out
    assert "DONE Finished Finished" in out


@pytest.mark.usefixtures("docker_engine")
def test_batch_scoring_with_parallel_run_step(tmp_path):
    out = _run("batch_scoring", tmp_path)
    assert "Prediction has  25  rows" in out
    assert "img_000.txt" in out and "short" in out
    assert "PUBLISHED 1.0" in out


@pytest.mark.usefixtures("docker_engine")
def test_train_on_local_user_managed_system_managed_and_docker(tmp_path):
    out = _run("train_on_local", tmp_path)
    assert "USER MANAGED Completed host" in out
    assert "SYSTEM MANAGED Completed local" in out
    assert "DOCKER Completed docker" in out
    assert "we have min MSE" in out
    assert "MODEL best_ridge_model 1 True" in out


@pytest.mark.usefixtures("docker_engine")
def test_script_run_with_dataset_inputs_and_outputs(tmp_path):
    out = _run("scriptrun_with_data", tmp_path)
    assert "Hello Azure ML!" in out and "FIRST Completed" in out
    assert "COPIED True" in out
    assert "TAKE (2, 3)" in out
    assert "SECOND Completed 3" in out


@pytest.mark.usefixtures("docker_engine")
def test_publish_rest_submit_and_pipeline_endpoints(tmp_path):
    out = _run("pipeline_endpoints", tmp_path)
    assert "started the studio server of this home" in out
    assert "Hello World! pipeline_arg is 45" in out and "REST RUN Finished" in out
    assert "DEFAULT VERSION 1" in out
    assert "VERSION 0 My_Published_Pipeline" in out
    assert "VERSION 1 Published_Pipeline_Notebook" in out
    assert "Hello World! pipeline_arg is 7" in out and "EXPERIMENT SUBMIT Finished" in out
    assert "ENDPOINT REST Finished True" in out
    assert "RENAMED True" in out and "DISABLED 400" in out
    assert "DONE Finished Finished" in out


def test_mlflow_tracking_through_the_workspace_uri(tmp_path):
    """The v1 MLflow sample: the real mlflow client on ws.get_mlflow_tracking_uri() records an
    amlocal run (params, metrics with steps, a tag, an artifact, a nested run) that the v1 Run
    API reads back. No step runs: nothing needs Docker."""
    out = _run("mlflow_tracking", tmp_path)
    assert "started the studio server of this home" in out
    assert "STATUS Completed" in out
    assert "HELLO METRIC 0.5" in out
    loss = out.split("LOSS ", 1)[1].splitlines()[0]
    assert [float(v) for v in loss.strip("[]").split(",")] == [1.0, 0.5, 1 / 3]
    assert "TAG sample" in out
    assert "helloworld.txt" in out.split("FILES", 1)[1].splitlines()[0]
    assert "CHILDREN [True]" in out and "RUNS 1" in out
