"""conda packages where no conda answers: the conda-to-PyPI map, the lock that records it, and a
pipeline step that imports the packages in a container built from that lock."""
from __future__ import annotations

import dataclasses
import textwrap

import pytest

from amlocal.compute import conda_map, environments
from amlocal.compute.base import EnvironmentSpec
from amlocal.errors import EnvironmentBuildError

# numpy under its conda name with a conda pin, msgpack under its conda name (msgpack-python),
# six with a channel prefix, and two system packages conda would install that PyPI has no use for
SPEC = EnvironmentSpec(name="conda-fallback", python_version="3.8",
                       conda_channels=("conda-forge",),
                       conda_packages=("numpy=2.1", "msgpack-python", "conda-forge::six",
                                       "libgcc-ng", "cudatoolkit=11.8"))


def test_the_map_renames_drops_and_keeps_pins():
    result = conda_map.to_pypi(
        ["conda-forge::numpy=1.26", "py-xgboost>=1.7", "pytorch==2.1.0", "pytorch-cpu",
         "tensorflow-cpu", "cudatoolkit=11.8", "mkl", "nomkl", "blas=*=openblas", "libgcc",
         "python=3.8", "pip", "scikit-learn", "python-dateutil", "pyyaml 6.0.*",
         "pandas=2.0.3=py311h1234", "six[version='>=1.16']"], "3.8", "3.11")
    assert result.requirements == (
        "numpy==1.26.*", "xgboost>=1.7", "torch==2.1.0", "torch", "tensorflow", "scikit-learn",
        "python-dateutil", "pyyaml==6.0.*", "pandas==2.0.3.*", "six>=1.16")
    lines = result.lines()
    assert "py-xgboost>=1.7 -> xgboost>=1.7" in lines
    assert "conda-forge::numpy=1.26 -> numpy==1.26.*" in lines
    assert "scikit-learn (same name on PyPI)" in lines
    dropped = {line.split()[0] for line in lines if " dropped (" in line}
    assert dropped == {"cudatoolkit=11.8", "mkl", "nomkl", "blas=*=openblas", "libgcc",
                       "python=3.8", "pip"}
    assert any("CUDA" in line for line in lines if line.startswith("cudatoolkit"))
    assert any("build string 'py311h1234' ignored" in line for line in lines)
    assert "python=3.8 dropped (the Python is the base's, 3.11)" in lines


def test_r_packages_are_refused_naming_them():
    with pytest.raises(EnvironmentBuildError, match=r"r-ggplot2.*R packages"):
        conda_map.to_pypi(["numpy", "r-ggplot2"])


def test_the_lock_records_the_map_and_its_version_decides_the_digest(fresh_home, plain_base,
                                                                     monkeypatch):
    said: list[str] = []
    resolved = environments.resolve(SPEC, log=said.append, base=plain_base)
    assert resolved.installer == "uv" and resolved.spec == SPEC
    lock = resolved.lock_text
    assert lock.startswith(environments.FALLBACK_HEADER)
    assert f"map v{conda_map.MAP_VERSION}" in lock.splitlines()[0]
    subs = environments.conda_substitutions(lock)
    assert "msgpack-python -> msgpack" in subs and "numpy=2.1 -> numpy==2.1.*" in subs
    assert "conda-forge::six -> six" in subs
    assert any(s.startswith("libgcc-ng dropped") for s in subs)
    assert any(s.startswith("cudatoolkit=11.8 dropped") for s in subs)
    assert any(s.startswith("python=3.8 -> Python 3.11") for s in subs)
    for pinned in ("numpy==2.1.", "msgpack==", "six=="):
        assert pinned in lock
    assert "--hash=sha256:" in lock
    warnings = [s for s in said if s.startswith("warning")]
    assert len(warnings) == 1
    assert "msgpack-python -> msgpack" in warnings[0] and "cudatoolkit" in warnings[0]

    # Cached: the same lock again, warned again once, no solving.
    with monkeypatch.context() as m:
        m.setattr(environments, "lock_with_uv", lambda *a, **k: pytest.fail("relocked"))
        said.clear()
        again = environments.resolve(SPEC, log=said.append, base=plain_base)
    assert again.digest == resolved.digest
    assert len([s for s in said if s.startswith("warning")]) == 1

    # A new map version is a new lock (and image): the old one is not reused.
    monkeypatch.setattr(conda_map, "MAP_VERSION", "test-next")
    newer = environments.resolve(SPEC, log=lambda _: None, base=plain_base)
    assert "map vtest-next" in newer.lock_text.splitlines()[0]
    assert newer.digest != resolved.digest
    # A spec whose conda packages map differently locks differently.
    other = environments.resolve(dataclasses.replace(SPEC, conda_packages=("numpy=2.1",)),
                                 log=lambda _: None, base=plain_base)
    assert "msgpack" not in other.lock_text and other.digest != newer.digest


def test_a_step_imports_conda_packages_installed_from_pypi(workspace, docker_engine, tmp_path):
    from amlocal.core import Experiment
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    src.mkdir()
    (src / "probe.py").write_text(textwrap.dedent("""
        import msgpack, numpy, six
        print("NUMPY", numpy.__version__)
        print("MSGPACK", msgpack.unpackb(msgpack.packb({"a": [1, 2]})))
        print("SIX", six.__version__)
    """))
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(
        conda_packages=list(SPEC.conda_packages), python_version="3.8"))
    rc.environment.python.conda_dependencies.add_channel("conda-forge")
    steps = [PythonScriptStep("probe.py", name=f"probe{i}", source_directory=str(src),
                              runconfig=rc, allow_reuse=False) for i in (1, 2)]
    run = Experiment(workspace, "conda-fallback").submit(Pipeline(workspace, steps))
    assert run.wait_for_completion(show_output=False) == "Finished"
    found = {s.name: s for s in run.get_steps()}
    for name in ("probe1", "probe2"):
        log = found[name].get_job_log()
        assert "NUMPY 2.1." in log and "MSGPACK {'a': [1, 2]}" in log and "SIX 1." in log
        recorded = found[name].get_properties()["amlocal.conda_substitutions"]
        assert "msgpack-python -> msgpack" in recorded and "cudatoolkit=11.8 dropped" in recorded
    # one warning for the environment both steps share, naming each substitution
    from amlocal.pipeline.core.run import PIPELINE_LOG
    pipeline_log = workspace._store.read_artifact(run.id, PIPELINE_LOG).decode()
    warnings = [ln for ln in pipeline_log.splitlines() if "installed from PyPI with uv" in ln]
    assert len(warnings) == 1, warnings
    assert "msgpack-python -> msgpack" in warnings[0] and "libgcc-ng dropped" in warnings[0]


def test_env_show_says_what_the_conda_packages_become(workspace):
    from click.testing import CliRunner

    from amlocal.cli import cli
    from amlocal.core import Environment
    from amlocal.core.conda_dependencies import CondaDependencies
    env = Environment("with-conda")
    env.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["py-xgboost=2.0", "mkl", "scikit-learn"], pip_packages=["six"])
    env.register(workspace)
    shown = CliRunner().invoke(cli, ["env", "show", "with-conda", "-w", workspace.name,
                                     "-g", workspace.resource_group], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    line = next(ln for ln in shown.stdout.splitlines() if ln.strip().startswith("conda on PyPI"))
    assert "py-xgboost=2.0 -> xgboost==2.0.*" in line and "mkl dropped" in line
    assert "scikit-learn (same name on PyPI)" in line


def test_a_virtualenv_never_takes_a_conda_lock(fresh_home, plain_base):
    # A recorded conda-lock.yml serves images; the 'local' backend's virtualenv maps to PyPI.
    from pathlib import Path
    lock = environments.load_recorded_conda_lock(
        Path(__file__).parent / "fixtures" / "conda-lock.yml")
    spec = EnvironmentSpec(name="conda-numpy", python_version="3.11",
                           conda_channels=("conda-forge",), conda_packages=("numpy",),
                           pip_packages=("six",))
    environments.record_lock(spec, lock, plain_base)
    assert environments.resolve(spec, log=lambda _: None, base=plain_base).installer == \
        "conda-lock"
    venv = environments.resolve(spec, log=lambda _: None, base=plain_base, allow_conda=False)
    assert venv.installer == "uv" and "numpy==" in venv.lock_text and "six==" in venv.lock_text
