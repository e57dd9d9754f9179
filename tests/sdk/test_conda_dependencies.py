"""CondaDependencies: the default template, edits as azureml makes them, files, and the
normalised parts of an EnvironmentSpec."""
from __future__ import annotations

import warnings

import pytest

from amlocal.core.conda_dependencies import (PYTHON_DEFAULT_VERSION, SKLEARN_WARNING,
                                             CondaDependencies)
from amlocal.errors import UserErrorException

DEFAULT_TEXT = f"""\
# Conda environment specification. The dependencies defined in this file will
# be automatically provisioned for runs with userManagedDependencies=False.

# Details about the Conda environment file format:
# https://conda.io/docs/user-guide/tasks/manage-environments.html#create-env-file-manually

name: project_environment
dependencies:
- python={PYTHON_DEFAULT_VERSION}
- pip:
  - azureml-defaults
channels:
- anaconda
- conda-forge
"""


def test_default_template_text():
    cd = CondaDependencies()
    assert cd.serialize_to_string() == DEFAULT_TEXT
    assert cd.get_python_version() == PYTHON_DEFAULT_VERSION
    assert list(cd.pip_packages) == ["azureml-defaults"]
    assert list(cd.conda_channels) == ["anaconda", "conda-forge"]
    assert list(cd.conda_packages) == [f"python={PYTHON_DEFAULT_VERSION}"]


def test_default_template_round_trips_through_a_file(tmp_path):
    path = tmp_path / "env.yml"
    assert CondaDependencies().save(str(path)) == str(path)
    assert path.read_text() == DEFAULT_TEXT
    loaded = CondaDependencies(str(path))
    assert loaded == CondaDependencies()
    assert loaded.serialize_to_string() == DEFAULT_TEXT


def test_loaded_file_keeps_its_header_and_content(tmp_path):
    path = tmp_path / "conda.yml"
    path.write_text("# my header\nname: x\ndependencies:\n- python=3.11\n- numpy\n"
                    "- pip:\n  - --index-url https://example.org/simple\n  - torch==2.1\n")
    cd = CondaDependencies(path)
    assert cd.serialize_to_string().startswith("# my header\nname: x\n")
    assert cd.get_python_version() == "3.11"
    assert list(cd.conda_packages) == ["python=3.11", "numpy"]
    assert list(cd.pip_packages) == ["torch==2.1"]
    assert list(cd.pip_options) == ["--index-url https://example.org/simple"]
    assert list(cd.conda_channels) == []


def test_unknown_top_level_key_raises_listing_valid_keys(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("name: x\npackages:\n- numpy\n")
    with pytest.raises(UserErrorException, match="unknown packages key.*name, channels, dependencies"):
        CondaDependencies(path)
    path.write_text("- just a list\n")
    with pytest.raises(UserErrorException, match="not a valid YAML structure"):
        CondaDependencies(path)


def test_create_replaces_default_pip_packages():
    cd = CondaDependencies.create(pip_packages=["numpy==1.26.4", "pandas"],
                                  conda_packages=["scipy"], python_version="3.11")
    assert list(cd.pip_packages) == ["numpy==1.26.4", "pandas"]
    assert "azureml-defaults" not in cd.serialize_to_string()
    assert list(cd.conda_packages) == ["python=3.11", "scipy"]
    assert CondaDependencies.create().get_python_version() == PYTHON_DEFAULT_VERSION
    assert list(CondaDependencies.create().pip_packages) == ["azureml-defaults"]


def test_create_pins_nothing_and_sets_index_options():
    cd = CondaDependencies.create(pip_packages=["azureml-core", "azureml-defaults"],
                                  pip_indexurl="https://example.org/simple")
    assert list(cd.pip_packages) == ["azureml-core", "azureml-defaults"]
    assert list(cd.pip_options) == ["--index-url https://example.org/simple",
                                    "--extra-index-url https://pypi.python.org/simple"]


def test_add_pip_package_replaces_same_name_and_appends():
    cd = CondaDependencies()
    cd.add_pip_package("numpy==1.0")
    cd.add_pip_package("pandas")
    cd.add_pip_package("numpy>=2")
    assert list(cd.pip_packages) == ["azureml-defaults", "pandas", "numpy>=2"]
    cd.add_pip_package("pandas[performance]==2.2")
    assert list(cd.pip_packages) == ["azureml-defaults", "numpy>=2", "pandas[performance]==2.2"]
    cd.remove_pip_package("numpy")
    assert list(cd.pip_packages) == ["azureml-defaults", "pandas[performance]==2.2"]
    with pytest.raises(UserErrorException, match="set_pip_option"):
        cd.add_pip_package("--extra-index-url https://x")


def test_add_conda_package_python_redirects_to_set_python_version():
    cd = CondaDependencies()
    cd.add_conda_package("python=3.12")
    assert cd.get_python_version() == "3.12"
    assert [p for p in cd.conda_packages if p.startswith("python")] == ["python=3.12"]
    cd.add_conda_package("python-dateutil")
    assert cd.get_python_version() == "3.12"
    assert "python-dateutil" in list(cd.conda_packages)
    with pytest.raises(UserErrorException, match="python must not be removed"):
        cd.remove_conda_package("python=3.12")
    cd.remove_conda_package("python-dateutil")
    assert "python-dateutil" not in list(cd.conda_packages)


def test_channels_options_and_requirements():
    cd = CondaDependencies()
    cd.add_channel("pytorch")
    cd.add_channel("pytorch")
    assert list(cd.conda_channels) == ["anaconda", "conda-forge", "pytorch"]
    cd.remove_channel("anaconda")
    assert list(cd.conda_channels) == ["conda-forge", "pytorch"]
    cd.set_pip_option("--index-url https://a/simple")
    cd.set_pip_option("--index-url https://b/simple")
    assert list(cd.pip_options) == ["--index-url https://b/simple"]
    with pytest.raises(UserErrorException, match="options start with '-'"):
        cd.set_pip_option("numpy")
    cd.set_pip_requirements(["# comment", "", "torch", "--extra-index-url https://c"])
    assert list(cd.pip_packages) == ["torch"]
    assert list(cd.pip_options) == ["--extra-index-url https://c"]


def test_save_to_a_directory_raises(tmp_path):
    with pytest.raises(UserErrorException, match="to a directory"):
        CondaDependencies().save(str(tmp_path))
    with pytest.raises(UserErrorException, match="does not exist"):
        CondaDependencies().save(str(tmp_path / "missing" / "env.yml"))


def test_save_without_python_raises(tmp_path):
    source = tmp_path / "nopython.yml"
    source.write_text("name: x\ndependencies:\n- numpy\n")
    with pytest.raises(UserErrorException, match="Python package is missing"):
        CondaDependencies(source).save(str(tmp_path / "out.yml"))


def test_save_to_file_returns_relative_path(tmp_path):
    relative = CondaDependencies().save_to_file(str(tmp_path))
    assert relative == ".azureml/auto_conda_dependencies.yml"
    assert (tmp_path / relative).read_text() == DEFAULT_TEXT
    assert CondaDependencies().save_to_file(tmp_path, "env/conda.yml") == "env/conda.yml"
    assert (tmp_path / "env" / "conda.yml").is_file()


def test_spec_parts_drop_azureml_and_split_python_pip_and_options():
    cd = CondaDependencies.create(
        pip_packages=["azureml-core==1.2", "azureml-defaults", "azureml-dataprep[pandas]",
                      "Azureml_Mlflow", "numpy==1.26.4", "torch"],
        conda_packages=["pip=23.0", "pandas=2.1", "conda-forge::lightgbm"], python_version="3.11")
    cd.set_pip_option("--extra-index-url https://download.pytorch.org/whl/cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about here
        parts = cd._to_spec_parts()
    assert parts == {
        "python_version": "3.11",
        "conda_channels": ("anaconda", "conda-forge"),
        "conda_packages": ("pandas=2.1", "conda-forge::lightgbm"),
        "pip_packages": ("numpy==1.26.4", "torch"),
        "pip_options": ("--extra-index-url https://download.pytorch.org/whl/cpu",),
    }


@pytest.mark.parametrize("entry", ["sklearn", "sklearn==0.0", "SKLearn"])
def test_spec_parts_rename_sklearn_with_a_warning(entry):
    cd = CondaDependencies.create(pip_packages=[entry, "joblib"])
    with pytest.warns(UserWarning) as record:
        parts = cd._to_spec_parts()
    assert [str(w.message) for w in record] == [SKLEARN_WARNING]
    assert parts["pip_packages"] == ("scikit-learn", "joblib")


def test_spec_parts_keep_an_explicit_scikit_learn_pin_over_sklearn():
    cd = CondaDependencies.create(pip_packages=["sklearn", "scikit-learn==1.4.2"])
    with pytest.warns(UserWarning, match="installing 'scikit-learn' instead"):
        parts = cd._to_spec_parts()
    assert parts["pip_packages"] == ("scikit-learn==1.4.2",)


def test_spec_parts_drop_comments_and_blank_pip_lines(tmp_path):
    path = tmp_path / "env.yml"
    path.write_text("name: x\ndependencies:\n- python=3.11\n- pip:\n"
                    "  - requests  # http\n  - '# just a comment'\n")
    assert CondaDependencies(path)._to_spec_parts()["pip_packages"] == ("requests",)
