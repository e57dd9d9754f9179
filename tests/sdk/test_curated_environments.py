"""Azure's curated environments asked for by name, as v1 samples do, stand in from PyPI."""
from __future__ import annotations

import logging

import pytest

from amlocal.errors import NotFoundError, UserErrorException


def test_a_curated_name_gives_its_stack_and_says_what_it_chose(workspace, caplog):
    from amlocal.core import Environment
    with caplog.at_level(logging.WARNING):
        env = Environment.get(workspace, "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
    spec = env._to_spec()
    names = {p.split("=")[0].split("<")[0].split(">")[0] for p in spec.pip_packages}
    assert {"scikit-learn", "pandas", "numpy", "scipy"} <= names
    assert "Azure's image pins scikit-learn 1.0" in caplog.text
    lightgbm = Environment.get(workspace, "AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu")
    assert any(p.startswith("lightgbm") for p in lightgbm._to_spec().pip_packages)


def test_unknown_names_still_say_what_exists(workspace):
    from amlocal.core import Environment
    with pytest.raises(UserErrorException, match="AzureML-Minimal.*Declare the packages"):
        Environment.get(workspace, "AzureML-Quantum-9")
    with pytest.raises(NotFoundError):
        Environment.get(workspace, "my-own-env")


def test_a_curated_environment_cannot_be_registered_under_its_name(workspace):
    from amlocal.core import Environment
    env = Environment.get(workspace, "AzureML-Minimal")
    with pytest.raises(UserErrorException, match="reserved for curated"):
        env.register(workspace)


@pytest.mark.usefixtures("docker_engine")
def test_a_script_runs_in_a_curated_environment(workspace, tmp_path):
    from amlocal.core import Environment, Experiment, ScriptRunConfig
    from amlocal.core.runconfig import DockerConfiguration
    (tmp_path / "hello.py").write_text("import sys\nprint('PY', sys.version_info[:2])\n")
    src = ScriptRunConfig(source_directory=str(tmp_path), script="hello.py",
                          environment=Environment.get(workspace, "AzureML-Minimal"),
                          docker_runtime_config=DockerConfiguration(use_docker=True))
    run = Experiment(workspace, "curated").submit(src)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Completed"
    assert "PY (3," in run.get_details_with_logs()["logFiles"]["logs/user_logs/std_log.txt"]
