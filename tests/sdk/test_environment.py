"""Environment: azureml's defaults, file constructors, versioned registration against the real
SQLite store, lookups, and the normalised EnvironmentSpec handed to the compute layer."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from amlocal.compute.base import EnvironmentSpec
from amlocal.core.conda_dependencies import PYTHON_DEFAULT_VERSION, CondaDependencies
from amlocal.core.environment import DEFAULT_CPU_IMAGE, Environment
from amlocal.errors import NotFoundError, UserErrorException


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    for var in ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE"):
        monkeypatch.delenv(var, raising=False)
    from amlocal.core.workspace import Workspace
    return Workspace("sub", "rg", "ws1")


def test_defaults_match_azure():
    env = Environment("myenv")
    assert env.name == "myenv" and env.version is None
    assert env.python.user_managed_dependencies is False
    assert env.python.interpreter_path == "python"
    assert env.python.conda_dependencies == CondaDependencies()
    assert env.docker.base_image == DEFAULT_CPU_IMAGE
    assert env.docker.base_image.startswith("mcr.microsoft.com/azureml/")
    assert env.docker.base_dockerfile is None
    assert env.docker.shm_size == "2g" and env.docker.enabled is False
    assert env.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
    with pytest.raises(TypeError, match="expected str"):
        Environment(3)


def test_misspelt_attribute_raises_with_a_hint():
    env = Environment("e")
    with pytest.raises(AttributeError, match="use env.python.conda_dependencies"):
        env.conda_dependencies = CondaDependencies()
    with pytest.raises(AttributeError, match="interpreter_path"):
        env.python.interpreter = "python3"


def test_base_image_and_dockerfile_are_exclusive():
    env = Environment("e")
    env.docker.base_dockerfile = "FROM ubuntu:22.04\n"
    assert env.docker.base_image is None
    env.docker.base_image = "python:3.11-slim"
    assert env.docker.base_dockerfile is None


def test_from_conda_specification_reads_the_file_and_adds_default_python(tmp_path, caplog):
    with_python = tmp_path / "a.yml"
    with_python.write_text("name: a\nchannels: [conda-forge]\ndependencies:\n- python=3.11\n"
                           "- numpy\n- pip:\n  - requests\n")
    env = Environment.from_conda_specification("a", str(with_python))
    cd = env.python.conda_dependencies
    assert (cd.get_python_version(), list(cd.conda_packages), list(cd.pip_packages)) == \
        ("3.11", ["python=3.11", "numpy"], ["requests"])
    without = tmp_path / "b.yml"
    without.write_text("name: b\ndependencies:\n- numpy\n")
    env = Environment.from_conda_specification("b", without)
    assert env.python.conda_dependencies.get_python_version() == PYTHON_DEFAULT_VERSION
    assert f'No Python version provided, defaulting to "{PYTHON_DEFAULT_VERSION}"' in caplog.text
    assert "numpy" in list(env.python.conda_dependencies.conda_packages)


def test_from_pip_requirements_replaces_pip_section_and_adds_pip(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# training\npandas==2.2.2\n\nsklearn\n--extra-index-url https://x/simple\n")
    env = Environment.from_pip_requirements("p", str(req))
    cd = env.python.conda_dependencies
    assert list(cd.pip_packages) == ["pandas==2.2.2", "sklearn"]
    assert list(cd.pip_options) == ["--extra-index-url https://x/simple"]
    assert "pip" in list(cd.conda_packages)
    pinned = Environment.from_pip_requirements("p", req, pip_version="23.3")
    assert "pip=23.3" in list(pinned.python.conda_dependencies.conda_packages)


def test_from_docker_image_without_files_is_user_managed(tmp_path):
    env = Environment.from_docker_image("img", "python:3.11-slim")
    assert env.docker.base_image == "python:3.11-slim"
    assert env.python.user_managed_dependencies is True
    spec = env._to_spec()
    assert spec == EnvironmentSpec(name="img", base_image="python:3.11-slim",
                                   environment_variables={"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
                                   user_managed=True, interpreter_path="python")
    req = tmp_path / "r.txt"
    req.write_text("numpy\n")
    env = Environment.from_docker_image("img2", "python:3.11-slim", pip_requirements=str(req))
    assert env.python.user_managed_dependencies is False
    assert env._to_spec().pip_packages == ("numpy", "fsspec")  # + the injected runtime package


def test_to_spec_normalises_packages_and_carries_variables():
    env = Environment("train")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["azureml-defaults", "azureml-core==1.48.0", "sklearn==0.0", "lightgbm",
                      "azureml-dataprep[pandas]"],
        conda_packages=["pandas", "pip"], python_version="3.11")
    env.python.conda_dependencies.set_pip_option("--index-url https://example.org/simple")
    env.environment_variables = {"MODE": "fast", "N": 3}
    with pytest.warns(UserWarning, match="'sklearn' is a deprecated name on PyPI"):
        spec = env._to_spec()
    assert spec == EnvironmentSpec(
        name="train", python_version="3.11", conda_channels=("anaconda", "conda-forge"),
        conda_packages=("pandas",), pip_packages=("scikit-learn", "lightgbm", "fsspec"),
        pip_options=("--index-url https://example.org/simple",), base_image=DEFAULT_CPU_IMAGE,
        environment_variables={"MODE": "fast", "N": "3"})
    assert EnvironmentSpec.from_dict(spec.to_dict()) == spec


def test_to_spec_rejects_a_dockerfile():
    env = Environment.from_dockerfile("df", "FROM python:3.11\n")
    with pytest.raises(UserErrorException, match="from_docker_image"):
        env._to_spec()


def test_serialize_round_trip_uses_camel_case():
    env = Environment("round")
    env.python.conda_dependencies.add_pip_package("numpy")
    env.docker.base_image_registry.address = "myregistry.azurecr.io"
    env.docker.base_image_registry.password = "secret"
    data = env._serialize_to_dict()
    assert data["python"]["userManagedDependencies"] is False
    assert data["python"]["condaDependencies"]["dependencies"][1] == {"pip": ["azureml-defaults", "numpy"]}
    assert data["docker"]["baseImage"] == DEFAULT_CPU_IMAGE and data["docker"]["shmSize"] == "2g"
    assert data["environmentVariables"] == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
    assert "secret" not in repr(env)
    back = Environment._deserialize_and_add_to_object(data)
    assert back._serialize_to_dict() == data
    assert back.docker.base_image_registry.address == "myregistry.azurecr.io"


def test_register_versions_only_on_change(ws):
    env = Environment("train-env")
    first = env.register(ws)
    assert first.version == "1" and env.version is None
    assert env.register(ws).version == "1"
    assert first.register(ws).version == "1"
    env.python.conda_dependencies.add_pip_package("numpy==1.26.4")
    second = env.register(ws)
    assert second.version == "2"
    assert "numpy==1.26.4" in list(second.python.conda_dependencies.pip_packages)
    assert Environment.get(ws, "train-env").version == "2"
    old = Environment.get(ws, "train-env", version="1")
    assert "numpy==1.26.4" not in list(old.python.conda_dependencies.pip_packages)
    assert Environment.get(ws, "train-env", version=2)._to_spec() == second._to_spec()


def test_register_rejects_reserved_names(ws):
    with pytest.raises(UserErrorException, match="reserved for curated"):
        Environment("AzureML-Minimal").register(ws)


def test_get_unknown_name_lists_known_names(ws):
    Environment("alpha").register(ws)
    Environment("beta").register(ws)
    with pytest.raises(NotFoundError, match="no environment named 'gamma'.*alpha, beta"):
        Environment.get(ws, "gamma")
    with pytest.raises(NotFoundError, match="has no version 7; its versions are 1"):
        Environment.get(ws, "alpha", version=7)
    with pytest.raises(UserErrorException, match="Only one of version or label"):
        Environment.get(ws, "alpha", version="1", label="prod")


def test_list_returns_latest_of_each_name(ws):
    a = Environment("a")
    a.register(ws)
    a.environment_variables = {"X": "1"}
    a.register(ws)
    Environment("b").register(ws)
    found = Environment.list(ws)
    assert sorted(found) == ["a", "b"]
    assert found["a"].version == "2" and found["a"].environment_variables == {"X": "1"}
    assert found["b"].version == "1"
    assert sorted(ws.environments) == ["a", "b"]


def test_clone_is_an_unregistered_copy(ws):
    registered = Environment("orig").register(ws)
    copy = registered.clone("copy")
    assert (copy.name, copy.version) == ("copy", None)
    copy.python.conda_dependencies.add_pip_package("torch")
    assert "torch" not in list(registered.python.conda_dependencies.pip_packages)


def test_save_and_load_directory(tmp_path):
    env = Environment("saved")
    env.python.conda_dependencies.add_pip_package("numpy")
    env.save_to_directory(str(tmp_path / "envdir"))
    assert (tmp_path / "envdir" / "conda_dependencies.yml").is_file()
    back = Environment.load_from_directory(str(tmp_path / "envdir"))
    assert back._serialize_to_dict() == env._serialize_to_dict()
    with pytest.raises(FileExistsError):
        env.save_to_directory(str(tmp_path / "envdir"))


def test_environment_modules_need_only_the_standard_library(tmp_path):
    """Step containers mount amlocal into a Python that may lack yaml, sqlalchemy ...: the
    environment modules must import, build specs and serialise without them."""
    script = textwrap.dedent("""
        import importlib.abc, sys
        BLOCKED = {"yaml", "sqlalchemy", "pandas", "fsspec", "docker", "rich", "click", "ruamel"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError("blocked " + name)
        sys.meta_path.insert(0, Block())
        from amlocal.core.environment import Environment
        from amlocal.core.runconfig import RunConfiguration
        env = Environment("x")
        spec = env._to_spec()
        data = RunConfiguration()._serialize_to_dict()
        back = Environment._deserialize_and_add_to_object(env._serialize_to_dict())
        print(spec.python_version, data["target"], back.name)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "local", "x"]  # the template default: no preference


def test_registry_credentials_that_cannot_be_used_are_announced(caplog):
    from amlocal.core import Environment
    env = Environment("private")
    env.docker.base_image = "myregistry.example/team/base:1"
    env.docker.base_image_registry.address = "myregistry.example"
    env.docker.base_image_registry.username = "me"
    env.docker.base_image_registry.password = "secret"
    with caplog.at_level("WARNING"):
        env._to_spec()
    assert "credentials are not used" in caplog.text and "docker login myregistry.example" in caplog.text
    assert "secret" not in caplog.text
