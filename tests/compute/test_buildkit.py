"""Environment images built with BuildKit (and the legacy builder), against the real engine."""
from __future__ import annotations

import dataclasses
import uuid

import pytest

from amlocal.compute import buildkit, environments, images

FILES = ("find /opt/env -path '*/__pycache__' -prune -o -type f -print0 | sort -z "
         "| xargs -0 sha256sum")


# -- the protobuf reader (no engine) ---------------------------------------------------------

def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, value) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _timestamp(seconds: int, nanos: int) -> bytes:
    return _field(1, seconds) + _field(2, nanos)


def test_status_response_is_decoded():
    vertex = (_field(1, "sha256:aa") + _field(2, "sha256:parent") + _field(3, "RUN uv pip install")
              + _field(5, _timestamp(100, 0)) + _field(6, _timestamp(102, 500_000_000)))
    status = (_field(1, "exporting layers") + _field(2, "sha256:aa") + _field(4, 7)
              + _field(7, _timestamp(103, 0)) + _field(8, _timestamp(104, 0)))
    log = _field(1, "sha256:aa") + _field(3, 1) + _field(4, b"Installed 1 package\nBytec")
    raw = _field(1, vertex) + _field(2, status) + _field(3, log)
    vertices, statuses, logs = buildkit.decode_status(raw)
    assert vertices == [{"digest": "sha256:aa", "name": "RUN uv pip install",
                         "started": 100.0, "completed": 102.5}]
    assert statuses == [{"name": "exporting layers", "vertex": "sha256:aa", "started": 103.0,
                         "completed": 104.0}]
    assert logs == [("sha256:aa", b"Installed 1 package\nBytec")]

    progress, written = buildkit.Progress(), []
    buildkit._trace(progress, {}, _field(3, log), written.append)
    buildkit._trace(progress, {}, _field(3, _field(1, "sha256:aa") + _field(4, b"ode done\n")),
                    written.append)
    assert "".join(written) == "#0 Installed 1 package\n#0 Bytecode done\n"   # whole lines only
    buildkit._trace(progress, {}, raw, written.append)
    steps = {s.name: s for s in progress.report()}
    assert steps["RUN uv pip install"].seconds == 2.5
    assert steps["RUN uv pip install: exporting layers"].seconds == 1.0


def test_buildkit_dockerfile_differs_only_in_how_files_arrive(plain_base):
    lock = "six==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
    resolved = environments.resolved_from_lock(environments.EnvironmentSpec(name="t"), lock,
                                               plain_base)
    legacy = images.render_dockerfile(resolved)
    kit = images.render_dockerfile(resolved, buildkit=True)
    assert "--no-cache" in legacy and "--mount" not in legacy
    assert f"RUN --mount=type=cache,id={images.UV_CACHE_ID}," in kit and "--no-cache " not in kit
    assert "--link-mode copy" in kit and "--require-hashes --compile-bytecode" in kit
    # everything else is the same text, and the digest does not depend on the builder
    assert [ln for ln in legacy.splitlines() if "uv pip install" not in ln] == \
        [ln for ln in kit.splitlines() if "uv pip install" not in ln]
    assert resolved.digest == environments.resolved_from_lock(resolved.spec, lock,
                                                              plain_base).digest


# -- real builds -----------------------------------------------------------------------------

def _variant(six_env, marker: str):
    spec = dataclasses.replace(six_env.spec, environment_variables={"AMLOCAL_BK": marker})
    return environments.resolved_from_lock(spec, six_env.lock_text,
                                           images.describe_base(six_env.base_image))


def test_buildkit_and_legacy_builds_install_the_same_files(six_env, amlocal_home, docker_engine,
                                                           monkeypatch):
    if not buildkit.supported(docker_engine):
        pytest.skip("this engine has no BuildKit")
    kit, legacy = _variant(six_env, uuid.uuid4().hex), _variant(six_env, uuid.uuid4().hex)
    try:
        assert images.ensure_image(kit, log=lambda _: None) is True
        report = images.last_build_report(kit)
        assert report.builder == "buildkit" and report.digest == kit.digest
        names = [s.name for s in report.steps]
        assert any("uv pip install" in n for n in names)
        assert any(n.startswith("exporting to image") for n in names)
        assert f"id={images.UV_CACHE_ID}" in images.build_log_path(kit).read_text()
        image = docker_engine.images.get(kit.image)
        assert image.labels["amlocal.digest"] == kit.digest
        assert image.labels["amlocal.environment"] == kit.spec.name

        monkeypatch.setenv("AMLOCAL_BUILDKIT", "0")
        assert images.ensure_image(legacy, log=lambda _: None) is True
        assert images.last_build_report(legacy).builder == "legacy"
        assert docker_engine.images.get(legacy.image).labels["amlocal.digest"] == legacy.digest

        listing = [docker_engine.containers.run(r.image, ["sh", "-c", FILES], remove=True)
                   for r in (kit, legacy)]
        assert listing[0] == listing[1] and b"/six.py" in listing[0]
        out = docker_engine.containers.run(kit.image, ["python", "-c", "import six, os; "
                                                       "print(os.environ['AMLOCAL_BK'])"],
                                           remove=True)
        assert out.decode().strip() == kit.spec.environment_variables["AMLOCAL_BK"]
    finally:
        for r in (kit, legacy):
            if images.image_exists(r.image):
                docker_engine.images.remove(r.image, force=True)


def test_context_tar_is_plain_ustar(tmp_path):
    import io
    import tarfile
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "requirements.lock").write_text("")
    data = buildkit.context_tar(tmp_path)
    assert data[257:262] == b"ustar"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["Dockerfile", "requirements.lock"]
        assert all(m.uid == 0 and m.gid == 0 for m in tar.getmembers())
