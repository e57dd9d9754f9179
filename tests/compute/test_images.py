"""Base images and environment images against the real Docker engine."""
from __future__ import annotations

import dataclasses
import time
import uuid

import pytest

from amlocal.compute.bootstrap import bootstrap_base as _bootstrap_base
from amlocal.compute import environments, images
from amlocal.errors import DockerUnavailableError, EnvironmentBuildError


def test_no_engine_raises_docker_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    started = time.perf_counter()
    with pytest.raises(DockerUnavailableError, match="No Docker engine is answering"):
        images.docker_client()
    assert time.perf_counter() - started < 5


def test_describe_offline_base(base_image, amlocal_home):
    info = images.describe_base(base_image)
    assert info.python == "3.11" and info.platform in ("x86_64", "aarch64")
    assert info.layers and all(layer.startswith("sha256:") for layer in info.layers)
    assert images.choose_base_image(None) == base_image            # from AMLOCAL_BASE_IMAGE


def test_choose_base_prefers_local_images_without_network(base_image, amlocal_home, monkeypatch):
    monkeypatch.delenv("AMLOCAL_BASE_IMAGE")

    def no_pull(*args, **kwargs):
        raise AssertionError("pulled although a base image is present")

    monkeypatch.setattr(images, "_pull", no_pull)
    assert images.choose_base_image(None) in (images.DEFAULT_BASE, images.OFFLINE_BASE)


def test_missing_base_without_pull_says_how_to_fix(docker_engine, amlocal_home, monkeypatch):
    monkeypatch.setattr(images, "DEFAULT_BASE", "amlocal-test/absent:1")
    monkeypatch.setattr(images, "OFFLINE_BASE", "amlocal-test/absent:2")
    monkeypatch.delenv("AMLOCAL_BASE_IMAGE")
    with pytest.raises(EnvironmentBuildError, match="amlocal env bootstrap-base"):
        images.choose_base_image(None, pull=False)


def test_missing_base_is_pulled_once_then_explained(docker_engine, amlocal_home, monkeypatch):
    absent = f"amlocal-test/absent-{uuid.uuid4().hex[:8]}:1"
    monkeypatch.setattr(images, "DEFAULT_BASE", absent)
    monkeypatch.setattr(images, "OFFLINE_BASE", absent + "x")
    monkeypatch.delenv("AMLOCAL_BASE_IMAGE")
    said: list[str] = []
    for _ in range(2):
        with pytest.raises(EnvironmentBuildError, match="amlocal env bootstrap-base"):
            images.choose_base_image(None, log=said.append)
    assert len([s for s in said if s.startswith("pulling")]) == 1


def test_bootstrap_base_returns_at_once_when_present(base_image, docker_engine):
    name = f"amlocal-test/throwaway:{uuid.uuid4().hex[:8]}"
    docker_engine.images.get(base_image).tag(name)
    try:
        said: list[str] = []
        started = time.perf_counter()
        assert _bootstrap_base(name, log=said.append) == name
        assert time.perf_counter() - started < 2 and said == []
    finally:
        docker_engine.images.remove(name)


def test_ensure_image_builds_once(six_env, amlocal_home, docker_engine):
    image = docker_engine.images.get(six_env.image)
    assert image.labels["amlocal.digest"] == six_env.digest
    started = time.perf_counter()
    assert images.ensure_image(six_env, log=lambda _: None) is False
    assert time.perf_counter() - started < 0.5
    out = docker_engine.containers.run(six_env.image, ["python", "-c",
                                                       "import six, sys; print(sys.prefix)"],
                                       remove=True)
    assert out.decode().strip() == "/opt/env"


def test_environment_variables_are_baked_in(six_env, amlocal_home, docker_engine):
    spec = dataclasses.replace(six_env.spec, environment_variables={"AMLOCAL_T": "a $b \"c\" é"})
    base = images.describe_base(six_env.base_image)
    resolved = environments.resolved_from_lock(spec, six_env.lock_text, base)
    assert resolved.digest != six_env.digest
    try:
        assert images.ensure_image(resolved, log=lambda _: None) is True   # cached layers: fast
        out = docker_engine.containers.run(resolved.image, ["sh", "-c", 'echo "$AMLOCAL_T"'],
                                           remove=True)
        assert out.decode() == 'a $b "c" é\n'
    finally:
        docker_engine.images.remove(resolved.image, force=True)


def test_failed_install_names_the_package_and_log(six_env, amlocal_home, docker_engine):
    # Corrupt every hash: uv inside the build must refuse six, and say so.
    lock = "".join(line if "--hash=sha256:" not in line else
                   line.split("--hash=sha256:")[0] + "--hash=sha256:" + "0" * 64
                   + (" \\\n" if line.rstrip().endswith("\\") else "\n")
                   for line in six_env.lock_text.splitlines(keepends=True))
    resolved = environments.resolved_from_lock(six_env.spec, lock,
                                               images.describe_base(six_env.base_image))
    with pytest.raises(EnvironmentBuildError) as info:
        images.ensure_image(resolved, log=lambda _: None)
    message = str(info.value)
    assert "six" in message
    log_path = images.build_log_path(resolved)
    assert str(log_path) in message and log_path.is_file()
    assert "six" in log_path.read_text()
    assert not images.image_exists(resolved.image)


def test_failed_packages_parsing():
    assert images.failed_packages("ERROR: No matching distribution found for foo-bar==1.0\n") == \
        ["foo-bar==1.0"]
    assert images.failed_packages("  × Failed to download `numpy==1.26.4`\n") == ["numpy==1.26.4"]
    assert images.failed_packages("nothing useful here") == []
