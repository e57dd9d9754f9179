"""Locking: uv locks (needs PyPI, not Docker), the lock cache, digests, the conda-lock path from a
recorded lockfile, and base image choice rules that need no engine."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from amlocal.compute import environments, images
from amlocal.compute.base import EnvironmentSpec
from amlocal.compute.environments import BaseInfo
from amlocal.errors import EnvironmentBuildError

FIXTURE = Path(__file__).parent / "fixtures" / "conda-lock.yml"
CONDA_SPEC = EnvironmentSpec(name="conda-numpy", python_version="3.11",
                             conda_channels=("conda-forge",), conda_packages=("numpy",),
                             pip_packages=("six",))


def test_uv_lock_is_hash_pinned_and_deterministic(fresh_home, six_spec, plain_base, tmp_path,
                                                  monkeypatch):
    first = environments.resolve(six_spec, log=lambda _: None, base=plain_base)
    assert first.installer == "uv"
    assert first.installer_version == environments.installer_version("uv")
    assert "six==" in first.lock_text and "--hash=sha256:" in first.lock_text
    assert first.image == f"amlocal-env:{first.digest[:32]}"
    assert first.base_image == plain_base.image

    # An empty cache elsewhere locks again and gets the same bytes and digest.
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "other-home"))
    second = environments.resolve(six_spec, log=lambda _: None, base=plain_base)
    assert second.lock_text == first.lock_text
    assert second.digest == first.digest


def test_unchanged_spec_is_never_locked_again(fresh_home, six_spec, plain_base, monkeypatch):
    first = environments.resolve(six_spec, log=lambda _: None, base=plain_base)
    cached = environments.lock_path(six_spec, plain_base)
    assert cached.is_file() and cached.parent == fresh_home / "locks"
    mtime = cached.stat().st_mtime_ns

    def boom(*args, **kwargs):
        raise AssertionError("uv was called for a cached lock")

    monkeypatch.setattr(environments, "lock_with_uv", boom)
    started = time.perf_counter()
    again = environments.resolve(dataclasses.replace(six_spec, name="renamed"),
                                 log=lambda _: None, base=plain_base)
    assert time.perf_counter() - started < 0.5
    assert again.lock_text == first.lock_text and again.digest == first.digest
    assert cached.stat().st_mtime_ns == mtime
    # A different package set is a different key.
    other = dataclasses.replace(six_spec, pip_packages=("six", "idna"))
    assert environments.lock_key(other, plain_base) != environments.lock_key(six_spec, plain_base)
    # So is another Python or platform.
    assert environments.lock_key(six_spec, dataclasses.replace(plain_base, python="3.12")) != \
        environments.lock_key(six_spec, plain_base)


def test_digest_follows_lock_base_layers_env_and_template_only(plain_base):
    spec = EnvironmentSpec(name="a", pip_packages=("six",))
    lock = "six==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
    d = environments.resolved_from_lock(spec, lock, plain_base).digest
    assert environments.resolved_from_lock(spec, lock, plain_base).digest == d
    # Not the environment's name, not the base image's name (layers identify it).
    assert environments.resolved_from_lock(dataclasses.replace(spec, name="b"), lock,
                                           plain_base).digest == d
    assert environments.resolved_from_lock(
        spec, lock, dataclasses.replace(plain_base, image="other/name:tag")).digest == d
    # The lock, the base layers and baked-in variables do change it.
    assert environments.resolved_from_lock(spec, lock.replace("a", "b"), plain_base).digest != d
    new_layers = dataclasses.replace(plain_base, layers=plain_base.layers + ("sha256:" + "2" * 64,))
    assert environments.resolved_from_lock(spec, lock, new_layers).digest != d
    with_env = dataclasses.replace(spec, environment_variables={"MODE": "x"})
    assert environments.resolved_from_lock(with_env, lock, plain_base).digest != d
    # And so do the installer version and the template bytes.
    template = environments.template_bytes("uv")
    base_args = (lock, "uv", "0.13.9", template, plain_base.layers)
    ref = environments.compute_digest(*base_args)
    assert environments.compute_digest(lock, "uv", "0.13.10", template, plain_base.layers) != ref
    assert environments.compute_digest(lock, "uv", "0.13.9", template + b"#",
                                       plain_base.layers) != ref


def test_unknown_package_names_it(fresh_home, plain_base):
    spec = EnvironmentSpec(name="broken", pip_packages=("six", "amlocal-no-such-package-4711"))
    with pytest.raises(EnvironmentBuildError) as info:
        environments.resolve(spec, log=lambda _: None, base=plain_base)
    message = str(info.value)
    assert "amlocal-no-such-package-4711" in message
    assert "six," not in message.split("uv said")[0]
    assert not environments.lock_path(spec, plain_base).exists()


def test_impossible_version_names_the_package(fresh_home, plain_base):
    spec = EnvironmentSpec(name="broken", pip_packages=("six==99.0", "idna"))
    with pytest.raises(EnvironmentBuildError, match=r"six==99\.0"):
        environments.resolve(spec, log=lambda _: None, base=plain_base)


def test_python_version_warning_only_when_asked_differently(fresh_home, six_spec, plain_base):
    said: list[str] = []
    environments.resolve(six_spec, log=said.append, base=plain_base)
    assert not any("warning" in s for s in said)
    said.clear()
    environments.resolve(dataclasses.replace(six_spec, python_version="3.11.4"), log=said.append,
                         base=plain_base)
    assert not any("warning" in s for s in said)
    environments.resolve(dataclasses.replace(six_spec, python_version="3.9"), log=said.append,
                         base=plain_base)
    warnings = [s for s in said if s.startswith("warning")]
    assert len(warnings) == 1 and "3.9" in warnings[0] and "3.11" in warnings[0]


def test_pip_options_and_empty_environment(fresh_home, plain_base):
    said: list[str] = []
    text, flags = environments.requirements_in(
        EnvironmentSpec(pip_packages=("b", "a", "a"),
                        pip_options=("--extra-index-url https://example.invalid/simple", "--pre",
                                     "--no-cache-dir")), said.append)
    assert text.splitlines() == ["--extra-index-url https://example.invalid/simple", "a", "b"]
    assert flags == ["--prerelease", "allow"]
    assert len(said) == 1 and "--no-cache-dir" in said[0]
    empty = environments.resolve(EnvironmentSpec(name="empty"), log=lambda _: None, base=plain_base)
    assert empty.lock_text == "" and empty.installer == "uv"


# --- conda-lock, from a recorded lockfile (no conda and no channel are reachable here) ---------

def test_conda_detection_is_fast_and_says_unavailable():
    started = time.perf_counter()
    ok, reason = environments.conda_availability(("conda-forge",))
    assert time.perf_counter() - started < 5
    assert ok is False and reason


def test_conda_spec_without_conda_falls_back_to_pypi(fresh_home, plain_base):
    # No conda here: the conda package is locked from PyPI (tests/compute/test_conda_fallback.py
    # builds and runs such an environment); an R package cannot be, and fails fast naming it.
    said: list[str] = []
    resolved = environments.resolve(CONDA_SPEC, log=said.append, base=plain_base)
    assert resolved.installer == "uv" and "numpy==" in resolved.lock_text
    assert resolved.lock_text.startswith(environments.FALLBACK_HEADER)
    assert len([s for s in said if s.startswith("warning")]) == 1
    started = time.perf_counter()
    with pytest.raises(EnvironmentBuildError) as info:
        environments.resolve(dataclasses.replace(CONDA_SPEC, conda_packages=("r-base", "numpy")),
                             log=lambda _: None, base=plain_base)
    assert time.perf_counter() - started < 5
    message = str(info.value)
    assert "r-base" in message and "conda" in message and "numpy" not in message


def test_recorded_conda_lock_resolves_and_renders(fresh_home, plain_base, tmp_path):
    lock = environments.load_recorded_conda_lock(FIXTURE)
    plan = environments.conda_install_plan(lock, "linux-64")
    names = [p["name"] for p in plan["conda"]]
    assert {"python", "numpy", "pip"} <= set(names) and "pytest" not in names  # dev is optional
    assert [p["name"] for p in plan["pip"]] == ["six"]
    assert all(p["md5"] and p["sha256"] for p in plan["conda"])

    environments.record_lock(CONDA_SPEC, lock, plain_base)
    resolved = environments.resolve(CONDA_SPEC, log=lambda _: None, base=plain_base)
    assert resolved.installer == "conda-lock"
    assert resolved.installer_version == environments.installer_version("conda-lock")
    assert resolved.lock_text == lock
    assert resolved.digest == environments.resolved_from_lock(CONDA_SPEC, lock, plain_base).digest
    assert resolved.digest != environments.resolved_from_lock(
        CONDA_SPEC, lock.replace("1.26.4", "1.26.5"), plain_base).digest

    dockerfile = images.render_dockerfile(resolved)
    assert dockerfile.startswith("#") and f"FROM {plain_base.image}\n" in dockerfile
    assert "micromamba/linux-64/" in dockerfile
    assert "micromamba create" in dockerfile and "--file /opt/amlocal/conda-lock.yml" in dockerfile
    assert "--require-hashes -r /opt/amlocal/pip-requirements.txt" in dockerfile
    images.write_context(resolved, tmp_path)
    assert (tmp_path / "conda-lock.yml").read_text() == lock
    assert (tmp_path / "pip-requirements.txt").read_text().startswith(
        "six @ https://files.pythonhosted.org/")
    assert "--hash=sha256:8abb2f1d" in (tmp_path / "pip-requirements.txt").read_text()


def test_invalid_recorded_lock_is_rejected(tmp_path):
    bad = tmp_path / "conda-lock.yml"
    bad.write_text(FIXTURE.read_text().replace("  manager: conda\n", "  manager: rpm\n", 1))
    with pytest.raises(EnvironmentBuildError, match="not a valid conda-lock.yml"):
        environments.load_recorded_conda_lock(bad)


def test_environment_yml_for_conda(plain_base):
    yml = environments.environment_yml(CONDA_SPEC, plain_base)
    assert yml["channels"] == ["conda-forge"]
    assert yml["dependencies"][:2] == ["python=3.11", "numpy"]
    assert {"pip": ["six"]} in yml["dependencies"]


# --- base image rules that need no engine -----------------------------------------------------

def test_base_image_choice_without_engine(monkeypatch):
    monkeypatch.setenv("AMLOCAL_BASE_IMAGE", "my/base:1")
    assert images.choose_base_image(EnvironmentSpec(base_image="org/own:2")) == "org/own:2"
    azure = EnvironmentSpec(
        base_image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230509")
    assert images.choose_base_image(azure) == "my/base:1"
    assert images.choose_base_image(EnvironmentSpec()) == "my/base:1"


def test_host_base_describes_this_python():
    import sys
    host = environments.host_base()
    assert host.image == "" and host.python == "%d.%d" % sys.version_info[:2]
    assert isinstance(host, BaseInfo) and host.layers
