"""The way users meet amlocal: the README's example script, the installed `amlocal` command,
Ctrl-C while waiting, a machine without Docker, and several processes sharing one store."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AMLOCAL_STORE_URL")}
    return {**env, "AMLOCAL_HOME": str(home), "AMLOCAL_STUDIO_PORT": "0", **extra}


def _publish(tmp_path: Path, home: Path, script: str) -> str:
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text(textwrap.dedent(script))
    code = textwrap.dedent(f"""
        from amlocal.core import Workspace
        from amlocal.pipeline.core import Pipeline
        from amlocal.pipeline.steps import PythonScriptStep
        ws = Workspace("sub", "rg", "cliws")
        step = PythonScriptStep("step.py", name="only", source_directory={str(src)!r})
        print(Pipeline(ws, [step]).publish("Cli Pipeline").id)
    """)
    out = subprocess.run([sys.executable, "-c", code], env=_env(home), capture_output=True,
                         text=True, check=True)
    return out.stdout.split()[-1]


@pytest.mark.usefixtures("docker_engine")
def test_readme_example_runs_end_to_end(tmp_path):
    work = tmp_path / "example"
    out = subprocess.run(["bash", str(ROOT / "examples/highspenders/run.sh")],
                         env=_env(tmp_path / "home", HIGHSPENDERS_DIR=str(work)),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "[train high-spender model] high-spender classifier: accuracy" in out.stdout
    assert "final status: Finished" in out.stdout
    assert "highspender:1" in out.stdout


@pytest.mark.usefixtures("docker_engine")
def test_ctrl_c_while_waiting_cancels_and_removes_the_container(tmp_path):
    home = tmp_path / "home"
    pid = _publish(tmp_path, home, "import time\nprint('started', flush=True)\ntime.sleep(300)\n")
    proc = subprocess.Popen(["amlocal", "run", "submit-pipeline", "-i", pid, "-w", "cliws",
                             "-g", "rg", "--wait"], env=_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    seen = ""
    while "started" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    assert "[only] started" in seen
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    runs = subprocess.run(["amlocal", "run", "list", "-w", "cliws", "-o", "json"], env=_env(home),
                          capture_output=True, text=True, check=True)
    assert [r["status"] for r in json.loads(runs.stdout)] == ["Canceled"]
    left = subprocess.run(["docker", "ps", "-aq", "--filter", "label=amlocal.pipeline_run_id"],
                          capture_output=True, text=True, check=True)
    assert left.stdout.strip() == ""


def test_no_docker_engine_gives_one_plain_message(tmp_path):
    home = tmp_path / "home"
    pid = _publish(tmp_path, home, "print('hi')\n")
    out = subprocess.run(["amlocal", "run", "submit-pipeline", "-i", pid, "-w", "cliws", "--wait"],
                         env=_env(home, DOCKER_HOST="unix:///nonexistent/docker.sock"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "No Docker engine is answering" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    listed = subprocess.run(["amlocal", "run", "list", "-w", "cliws", "-o", "json"],
                            env=_env(home), capture_output=True, text=True, check=True)
    assert json.loads(listed.stdout) == []  # nothing was recorded for a run that cannot start


def test_several_processes_share_one_store(tmp_path):
    home = tmp_path / "home"
    model = tmp_path / "m.bin"
    model.write_bytes(b"weights")
    code = textwrap.dedent(f"""
        from amlocal.core import Experiment, Model, Workspace
        ws = Workspace("sub", "rg", "shared")
        run = Experiment(ws, "concurrent").start_logging()
        for i in range(5):
            Model.register(ws, {str(model)!r}, "shared-model")
            for j in range(200):
                run.log("n", j)
        run.complete()
    """)
    subprocess.run([sys.executable, "-c", "from amlocal.core import Workspace; "
                    "Workspace('sub', 'rg', 'shared')"], env=_env(home), check=True)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=_env(home),
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    check = textwrap.dedent("""
        from amlocal.core import Experiment, Model, Workspace
        ws = Workspace("sub", "rg", "shared")
        print(sorted(m.version for m in Model.list(ws, name="shared-model")))
        print([len(r.get_metrics()["n"]) for r in Experiment(ws, "concurrent").get_runs()])
        print(sorted(open(m.download(target_dir=str(i), exist_ok=True), "rb").read().decode()
                     for i, m in enumerate(Model.list(ws, name="shared-model")))[0])
    """)
    out = subprocess.run([sys.executable, "-c", check], env=_env(home), capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    versions, counts, content = out.stdout.splitlines()
    assert versions == str(list(range(1, 21)))
    assert counts == str([1000] * 4)
    assert content == "weights"
