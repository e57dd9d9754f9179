"""Where a ScriptRunConfig on the 'local' target runs, as Azure's local-run matrix says: the host's
own interpreter (user-managed, Docker off), a virtualenv built from the lock (Docker off), or a
container (Docker on; user-managed: the base image's interpreter). Real runs, real processes."""
from __future__ import annotations

import os
import sys
import textwrap

import pytest

PROBE = """
import os, sys
from azureml.core import Run
run = Run.get_context()
secret = open(sys.argv[1]).read().strip() if os.path.exists(sys.argv[1]) else "NOT-VISIBLE"
print("EXECUTABLE", sys.executable)
print("PREFIX", sys.prefix)
print("HOST FILE", secret)
run.log("answer", 42)
os.makedirs("outputs", exist_ok=True)
open("outputs/result.txt", "w").write(secret)
os.makedirs("logs", exist_ok=True)
open("logs/extra.log", "w").write("a log line")
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""


@pytest.fixture
def probe(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "probe.py").write_text(textwrap.dedent(PROBE))
    host_only = tmp_path / "host-only.txt"          # not in the snapshot: only the host sees it
    host_only.write_text("only on this machine")
    return str(src), str(host_only)


def _lines(run, workspace) -> dict:
    from amlocal.pipeline.core.run import STD_LOG
    text = workspace._store.read_artifact(run.id, STD_LOG).decode()
    found = {}
    for line in text.splitlines():
        for key in ("EXECUTABLE", "PREFIX", "HOST FILE"):
            if line.startswith(key + " "):
                found[key] = line[len(key) + 1:]
    return found


# --- how run_config.docker is derived (no run needed) ---------------------------------------

def test_docker_settings_are_derived_as_the_wheel_does(caplog):
    from amlocal.core import Environment, ScriptRunConfig
    from amlocal.core.runconfig import DockerConfiguration, RunConfiguration
    from amlocal.core.script_run_config import local_execution
    from amlocal.errors import RunConfigurationException

    plain = ScriptRunConfig(".", "train.py")
    assert plain.run_config.target == "local" and plain.run_config.docker.use_docker is False
    assert plain.run_config.environment.name == "default-environment"
    assert local_execution(plain.run_config) == "local"

    env = Environment("e")
    env.docker.enabled = True                     # deprecated, honoured
    assert "'enabled' is deprecated" in caplog.text
    env.docker.shm_size = "4g"
    from_env = ScriptRunConfig(".", "train.py", environment=env)
    assert from_env.run_config.docker.use_docker is True
    assert from_env.run_config.docker.shm_size == "4g"
    assert local_execution(from_env.run_config) == "docker"

    explicit = ScriptRunConfig(".", "train.py", environment=env,
                               docker_runtime_config=DockerConfiguration(use_docker=False))
    assert explicit.run_config.docker.use_docker is False     # docker_runtime_config wins

    managed = Environment("m")
    managed.python.user_managed_dependencies = True
    assert local_execution(ScriptRunConfig(".", "t.py", environment=managed).run_config) == "host"

    rc = RunConfiguration()                        # its own default: use_docker=False
    given = ScriptRunConfig(".", "train.py", run_config=rc)
    assert given.run_config is rc and rc.docker.use_docker is False
    assert local_execution(rc) == "local"
    rc.environment = env                           # an older sample's docker.enabled = True
    assert rc.docker.use_docker is False and local_execution(rc) == "docker"

    with pytest.raises(RunConfigurationException, match="DockerConfiguration"):
        ScriptRunConfig(".", "train.py", docker_runtime_config={"use_docker": True})


def test_get_run_config_from_script_run_copies_deeply():
    from amlocal.core import ScriptRunConfig
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.core.script_run_config import get_run_config_from_script_run

    rc = RunConfiguration(script="old.py", arguments=["--a", "1"])
    src = ScriptRunConfig(".", "new.py", arguments=["--b", 2], run_config=rc)
    copied = get_run_config_from_script_run(src)
    assert copied is not rc and copied.environment is not rc.environment
    assert copied.script == "new.py" and copied.arguments == ["--b", 2]
    assert rc.script == "old.py" and rc.arguments == ["--a", "1"]
    kept = get_run_config_from_script_run(ScriptRunConfig(".", run_config=rc))
    assert kept.script == "old.py" and kept.arguments == ["--a", "1"]


# --- real runs -----------------------------------------------------------------------------

def test_user_managed_without_docker_runs_the_hosts_interpreter(workspace, probe):
    from amlocal.core import Environment, Experiment, ScriptRunConfig
    src, host_only = probe
    env = Environment("notebook")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    exp = Experiment(workspace, "matrix")
    run = exp.submit(ScriptRunConfig(src, "probe.py", arguments=[host_only], environment=env))
    assert run.wait_for_completion()["status"] == "Completed"
    seen = _lines(run, workspace)
    assert os.path.realpath(seen["EXECUTABLE"]) == os.path.realpath(sys.executable)
    assert seen["HOST FILE"] == "only on this machine"
    assert run.get_metrics() == {"answer": 42}
    assert run.get_properties()["amlocal.execution"].startswith("host")
    assert run.get_properties()["amlocal.installer"].startswith("host")
    names = run.get_file_names()
    assert "outputs/result.txt" in names and "logs/extra.log" in names

    failed = exp.submit(ScriptRunConfig(src, "probe.py", arguments=[host_only, 3],
                                        environment=env))
    assert failed.wait_for_completion(raise_on_error=False)["status"] == "Failed"

    missing = Environment("missing")
    missing.python.user_managed_dependencies = True
    missing.python.interpreter_path = "/no/such/python"
    from amlocal.errors import UserErrorException
    with pytest.raises(UserErrorException, match="/no/such/python"):
        exp.submit(ScriptRunConfig(src, "probe.py", environment=missing))


def test_module_level_submit_names_the_run(workspace, probe):
    from amlocal.core import Environment, ScriptRunConfig
    from amlocal.core.script_run_config import submit
    src, host_only = probe
    env = Environment("notebook")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    run = submit(ScriptRunConfig(src, "probe.py", arguments=[host_only], environment=env),
                 workspace, "by-function", run_id="my_own_run_id")
    assert run.id == "my_own_run_id" and run.experiment.name == "by-function"
    assert type(run).__name__ == "ScriptRun"
    assert run.wait_for_completion()["status"] == "Completed"


def test_not_user_managed_without_docker_runs_in_a_virtualenv(workspace, probe):
    from amlocal.core import Experiment, ScriptRunConfig
    from amlocal import _settings
    src, host_only = probe
    run = Experiment(workspace, "matrix").submit(
        ScriptRunConfig(src, "probe.py", arguments=[host_only]))
    assert run.wait_for_completion()["status"] == "Completed"
    seen = _lines(run, workspace)
    digest = run.get_properties()["amlocal.environment_digest"]
    venv = _settings.current().venvs / digest
    assert seen["PREFIX"] == str(venv)
    assert seen["HOST FILE"] == "only on this machine"
    assert run.get_properties()["amlocal.execution"].startswith("local")
    assert run.get_metrics() == {"answer": 42}


def test_docker_on_runs_in_a_container(workspace, probe, docker_engine):
    from amlocal.core import Environment, Experiment, ScriptRunConfig
    from amlocal.core.runconfig import DockerConfiguration
    src, host_only = probe
    exp = Experiment(workspace, "matrix")

    # user-managed: the base image's own interpreter, nothing installed
    env = Environment("image-as-is")
    env.python.user_managed_dependencies = True
    env.docker.enabled = True
    run = exp.submit(ScriptRunConfig(src, "probe.py", arguments=[host_only], environment=env))
    assert run.wait_for_completion()["status"] == "Completed"
    seen = _lines(run, workspace)
    assert seen["HOST FILE"] == "NOT-VISIBLE"                  # not this machine's files
    assert seen["EXECUTABLE"].startswith("/usr/") and not seen["PREFIX"].startswith("/opt/env")
    assert run.get_properties()["amlocal.installer"].startswith("user-managed")
    assert run.get_metrics() == {"answer": 42}

    # built from the lock: the environment's image
    run = exp.submit(ScriptRunConfig(src, "probe.py", arguments=[host_only],
                                     docker_runtime_config=DockerConfiguration(use_docker=True)))
    assert run.wait_for_completion()["status"] == "Completed"
    seen = _lines(run, workspace)
    assert seen["HOST FILE"] == "NOT-VISIBLE" and seen["PREFIX"] == "/opt/env"
    assert run.get_properties()["amlocal.execution"].startswith("docker")
