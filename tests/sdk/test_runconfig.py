"""RunConfiguration: azureml's defaults, where conda dependencies live, targets and files."""
from __future__ import annotations

import pytest

from amlocal.core.conda_dependencies import CondaDependencies
from amlocal.core.environment import Environment
from amlocal.core.runconfig import DockerConfiguration, RunConfiguration
from amlocal.errors import UserErrorException


def test_defaults_match_azure():
    rc = RunConfiguration()
    assert rc.target == "local" and rc.node_count == 1
    assert (rc.framework, rc.communicator, rc.command, rc.arguments) == ("Python", "None", "", [])
    assert isinstance(rc.environment, Environment) and rc.environment.name == "default-environment"
    assert rc.environment.python.conda_dependencies == CondaDependencies()
    assert (rc.docker.use_docker, rc.docker.shared_volumes, rc.docker.arguments,
            rc.docker.shm_size) == (False, True, [], "2g")
    assert rc.data == {} and rc.output_data == {} and rc.environment_variables == {}
    assert rc.history.directories_to_watch == ["logs"]


def test_conda_dependencies_are_stored_on_the_environment():
    cd = CondaDependencies.create(pip_packages=["numpy"])
    rc = RunConfiguration(conda_dependencies=cd)
    assert rc.environment.python.conda_dependencies is cd
    with pytest.raises(AttributeError, match="use run_config.environment.python.conda_dependencies"):
        rc.conda_dependencies
    with pytest.raises(AttributeError, match="use run_config.environment.python.conda_dependencies"):
        rc.conda_dependencies = cd
    assert not hasattr(rc, "conda_dependencies")


def test_target_accepts_a_name_or_an_object_with_a_name():
    class Target:
        name = "cpu-cluster"

    rc = RunConfiguration()
    rc.target = "gpu"
    assert rc.target == "gpu"
    rc.target = Target()
    assert rc.target == "cpu-cluster"
    with pytest.raises(UserErrorException, match="compute target name"):
        rc.target = 42


def test_docker_configuration_arguments_are_not_shared():
    a, b = DockerConfiguration(), DockerConfiguration(use_docker=True, arguments=["--gpus", "all"])
    a.arguments.append("--x")
    assert DockerConfiguration().arguments == [] and b.use_docker is True
    assert b.arguments == ["--gpus", "all"]


def test_save_and_load_round_trip(tmp_path):
    rc = RunConfiguration(script="train.py", arguments=["--lr", 0.1],
                          conda_dependencies=CondaDependencies.create(pip_packages=["numpy"]))
    rc.target = "cpu"
    rc.node_count = 2
    rc.docker = DockerConfiguration(use_docker=True)
    rc.environment_variables = {"A": "1"}
    rc.save(str(tmp_path), name="train")
    saved = tmp_path / ".azureml" / "train.runconfig"
    assert "nodeCount: 2" in saved.read_text()
    back = RunConfiguration.load(str(tmp_path), name="train")
    assert back._serialize_to_dict() == rc._serialize_to_dict()
    assert list(back.environment.python.conda_dependencies.pip_packages) == ["numpy"]


def test_save_with_separate_environment_yaml(tmp_path):
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(pip_packages=["torch"]))
    target = tmp_path / "rc.runconfig"
    rc.save(str(target), separate_environment_yaml=True)
    assert (tmp_path / "environment.yml").is_file()
    back = RunConfiguration.load(str(target))
    assert list(back.environment.python.conda_dependencies.pip_packages) == ["torch"]


def test_save_and_load_errors(tmp_path):
    with pytest.raises(UserErrorException, match="without a name"):
        RunConfiguration().save(str(tmp_path))
    with pytest.raises(UserErrorException, match="does not exist"):
        RunConfiguration().save(str(tmp_path / "nope" / "x.runconfig"))
    with pytest.raises(UserErrorException, match="no run configuration found"):
        RunConfiguration.load(str(tmp_path), name="missing")
