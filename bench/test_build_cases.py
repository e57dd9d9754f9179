"""Checks of the env-build benchmark's own logic (no Docker, no timing assertions)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_cases  # noqa: E402
import run as bench_run  # noqa: E402


def test_env_build_is_registered_with_defaults():
    assert "env-build" in bench_run.BENCHMARKS
    assert bench_run.DEFAULT_REPEATS["env-build"] >= 1
    what, unit, target = bench_run.WHAT["env-build"]
    assert unit == "s" and "1.3" in target and "env-build" not in bench_run.NO_DOCKER


def test_uv_phases_read_uv_own_lines():
    text = ("Using Python 3.11.2 environment at: /opt/env\n#7 Resolved 18 packages in 406ms\n"
            "Prepared 18 packages in 4.77s\nInstalled 18 packages in 875ms\n"
            "#7 Bytecode compiled 4656 files in 13.16s\n")
    assert build_cases.uv_phases(text) == {
        "resolve": 0.406, "prepare (download or cache)": 4.77,
        "install (files into the venv)": 0.875, "compile bytecode": 13.16}
    assert build_cases.uv_phases("nothing") == {}


def test_image_phases_from_a_build_report():
    from amlocal.compute.buildkit import BuildReport, BuildStep
    report = BuildReport("amlocal-env:x", "x", "buildkit", 20.0, (
        BuildStep("[internal] load remote build context", 0.1),
        BuildStep("copy /context /", 0.05),
        BuildStep("[stage-0 3/5] RUN python3 -m venv /opt/env && ...", 0.0, True),
        BuildStep("[stage-0 5/5] RUN ... /opt/env/bin/uv pip install --cache-dir ...", 15.0),
        BuildStep("exporting to image", 3.0),
        BuildStep("exporting to image: exporting layers", 2.9),
        BuildStep("exporting to image: naming to docker.io/library/amlocal-env:x", 0.01)))
    phases = build_cases.image_phases(report)
    assert phases == {"context upload": 0.15000000000000002,
                      "RUN uv pip install (whole step)": 15.0, "layer export": 2.9,
                      "image tag": 0.01}


def _record(rid, parent=None, description="", kind="regular", used="2026-11-30T16:12:28.1Z"):
    return {"ID": rid, "Parent": parent, "Description": description, "Type": kind,
            "LastUsedAt": used}


def test_cold_prunes_this_build_below_the_shared_layer_only():
    old = "2026-11-30T10:00:00.123456789Z"
    records = {r["ID"]: r for r in [
        _record("base", description="from local"),
        _record("ca", "base", "fileop target"),
        _record("venv", "ca", "mount / from exec /bin/sh -c python3 -m venv /opt/env && ..."),
        _record("lock", "venv", "fileop target"),
        _record("install", "lock", "mount / from exec /bin/sh -c env ... uv pip install"),
        _record("ctx", None, "http url http://build-context-abc"),
        _record("ctxcopy", None, "fileop target"),
        _record("uvcache", None, "cached mount /var/cache/amlocal/uv", "exec.cachemount"),
        _record("other-env", "venv", "fileop target", used=old),      # another environment
        _record("unrelated", "elsewhere", "mount / from exec /bin/sh -c make"),
    ]}
    since = build_cases._used_at({"LastUsedAt": "2026-11-30T16:12:20Z"})
    assert sorted(build_cases.records_to_prune(records, since)) == [
        "ctx", "ctxcopy", "install", "lock"]


def test_used_at_parses_engine_timestamps():
    a = build_cases._used_at({"LastUsedAt": "2026-11-30T16:12:28.127686368Z"})
    b = build_cases._used_at({"CreatedAt": "2026-11-30T16:12:28Z"})
    assert 0 < a - b < 0.2
    assert build_cases._used_at({}) == 0.0
