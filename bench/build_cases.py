"""The environment-build benchmark of issue 11: a cold image build against a plain uv install.

``env-build``: an Environment whose pip packages are pandas, scikit-learn and matplotlib, locked
once outside the timing. Then, alternately:

- amlocal: ``environments.resolve`` (from the cached lock) and ``images.ensure_image`` with the
  image cold: before each build the image is removed (``docker image rm``) and the BuildKit
  cache records that build made are pruned, so no step of the build is a cache hit. "Cold"
  keeps what a machine that has built any environment before keeps: the base image, the
  per-base layer every environment on that base shares (its ``/opt/env`` virtualenv and the
  pinned uv) and uv's download cache (BuildKit's cache mount ``amlocal-uv-cache``).
- baseline: ``uv venv`` + ``uv pip install --require-hashes --compile-bytecode -r <the same
  lock>`` into a fresh folder on the host, with the same interpreter build as the image where
  the host has it (``/usr/bin/pythonX.Y``, the distribution's Python), and a warm uv cache of
  its own (a bench-private ``UV_CACHE_DIR``; uv's default hard links from it).

Both sides start with a warm download cache (one warm-up of each fills them) and both compile
bytecode (the image does so that a step's imports do not compile on every container start).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from harness import BenchError, Result, bench_home, median, quiet

PACKAGES = ("pandas", "scikit-learn", "matplotlib")
TARGET = 1.3
ENV_NAME = "bench-env-build"
SHARED_LAYER = "python3 -m venv /opt/env"      # the per-base layer a cold build keeps

_UV_LINES = {
    "resolve": re.compile(r"Resolved \d+ packages? in ([\d.]+)(ms|s)\b"),
    "prepare (download or cache)": re.compile(r"Prepared \d+ packages? in ([\d.]+)(ms|s)\b"),
    "install (files into the venv)": re.compile(r"Installed \d+ packages? in ([\d.]+)(ms|s)\b"),
    "compile bytecode": re.compile(r"Bytecode compiled \d+ files? in ([\d.]+)(ms|s)\b"),
}


def uv_phases(text: str) -> dict:
    """Seconds of uv's own phases in its output (``Resolved ... in 120ms`` and the like)."""
    out = {}
    for name, pattern in _UV_LINES.items():
        found = pattern.findall(text)
        if found:
            value, unit = found[-1]
            out[name] = float(value) / (1000.0 if unit == "ms" else 1.0)
    return out


def image_phases(report) -> dict:
    """The docker build's phases from a :class:`BuildReport`: context upload, the install RUN
    step (split by uv's own lines in the build log), layer export and the image tag."""
    out: dict = {}
    for step in report.steps:
        seconds = step.seconds or 0.0
        if step.name.startswith(("[internal] load remote build context", "copy /context")):
            out["context upload"] = out.get("context upload", 0.0) + seconds
        elif "uv pip install" in step.name and not step.cached:
            out["RUN uv pip install (whole step)"] = seconds
        elif step.name.startswith("exporting to image: exporting layers"):
            out["layer export"] = seconds
        elif step.name.startswith("exporting to image: naming to"):
            out["image tag"] = seconds
        elif step.name.startswith("exporting to image: writing image"):
            out["image config"] = seconds
    return out


def baseline_python(version: str) -> str:
    """The host interpreter of the baseline: the distribution's ``/usr/bin/pythonX.Y`` (the
    same build as a Debian base image's) when present, else what ``uv python find`` gives."""
    candidate = Path(f"/usr/bin/python{version}")
    if candidate.is_file():
        return str(candidate)
    from amlocal.compute.environments import uv_binary
    done = subprocess.run([uv_binary(), "python", "find", version], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError(f"no Python {version} on this machine for the uv baseline")
    return done.stdout.strip()


# -- cold image ------------------------------------------------------------------------------
def build_records(client) -> dict:
    """BuildKit's cache records by id (``docker system df``'s BuildCache)."""
    return {r["ID"]: r for r in (client.df().get("BuildCache") or [])}


def _parents(record: dict) -> list:
    return list(record.get("Parents") or ([record["Parent"]] if record.get("Parent") else []))


def _used_at(record: dict) -> float:
    """A record's ``LastUsedAt`` (or ``CreatedAt``) as ``time.time()`` seconds (0 if absent)."""
    from datetime import datetime
    raw = record.get("LastUsedAt") or record.get("CreatedAt") or ""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", raw)
    if not m:
        return 0.0
    fraction = (m.group(2) or ".0")[:7]
    zone = "+00:00" if m.group(3) in (None, "Z") else m.group(3)
    return datetime.fromisoformat(m.group(1) + fraction + zone).timestamp()


def records_to_prune(records: dict, since: float) -> list[str]:
    """The BuildKit records a build used (``LastUsedAt`` from ``since`` on) that a cold build
    must not find: the layers below the shared per-base layer (this environment's lock copy and
    install) and the build's context, never a cache mount (uv's download cache) nor the shared
    layer and its ancestors (the base image, the CA bundle copy)."""
    shared = {rid for rid, r in records.items() if SHARED_LAYER in (r.get("Description") or "")}
    keep: set = set()
    stack = list(shared)
    while stack:
        current = stack.pop()
        if current in keep or current not in records:
            continue
        keep.add(current)
        stack.extend(_parents(records[current]))

    def below_shared(rid: str) -> bool:
        seen = set()
        while rid in records and rid not in seen:
            seen.add(rid)
            parents = _parents(records[rid])
            if any(p in shared for p in parents):
                return True
            rid = parents[0] if parents else ""
        return False

    def context(record: dict) -> bool:
        description = record.get("Description") or ""
        return not _parents(record) and (description.startswith("http url http://build-context")
                                         or description == "fileop target")

    return [rid for rid, r in records.items()
            if rid not in keep and r.get("Type") != "exec.cachemount"
            and _used_at(r) >= since - 1.0 and (below_shared(rid) or context(r))]


def make_cold(client, image: str, prune: list[str]) -> None:
    """Remove ``image`` and prune the BuildKit records in ``prune`` (children first)."""
    import docker
    try:
        client.images.remove(image)
    except docker.errors.ImageNotFound:
        pass
    for _ in range(3):                      # a parent is prunable once its child is gone
        left = []
        for rid in prune:
            done = client.api.prune_builds(filters={"id": [rid]})
            if rid not in (done.get("CachesDeleted") or []):
                left.append(rid)
        prune = [rid for rid in left if rid in build_records(client)]
        if not prune:
            return


# -- the benchmark ---------------------------------------------------------------------------
def env_build(repeats: int = 3) -> Result:
    from amlocal.compute import environments, images
    from amlocal.compute.base import EnvironmentSpec
    what, unit, target = WHAT["env-build"]
    result = Result("env-build", what, unit, target)
    client = images.docker_client()
    with bench_home("env-build") as (_ws, root):
        spec = EnvironmentSpec(name=ENV_NAME, pip_packages=PACKAGES)
        start = time.perf_counter()
        with quiet():
            resolved = environments.resolve(spec, log=lambda _: None)
        lock_s = time.perf_counter() - start
        lock_file = root / "requirements.lock"
        lock_file.write_text(resolved.lock_text)
        python = baseline_python(images.describe_base(resolved.base_image).python)
        uv = environments.uv_binary()
        uv_env = {**os.environ, "UV_CACHE_DIR": str(root / "uv-cache")}
        buildkit = images.use_buildkit(client)

        def amlocal_side() -> tuple[float, dict]:
            since = time.time()
            start = time.perf_counter()
            with quiet():
                again = environments.resolve(spec, log=lambda _: None)
                resolved_s = time.perf_counter() - start
                built = images.ensure_image(again, log=lambda _: None)
            wall = time.perf_counter() - start
            if not built or again.digest != resolved.digest:
                raise BenchError("the image was not built cold (it existed, or the digest moved)")
            report = images.last_build_report(again)
            log_text = images.build_log_path(again).read_text(errors="replace")
            phases = {"resolve (cached lock, digest)": resolved_s, **image_phases(report),
                      **{f"uv {k}": v for k, v in uv_phases(log_text).items()}}
            phases["rest (engine calls, context, build request)"] = max(
                0.0, wall - resolved_s - sum(v for k, v in phases.items()
                                             if k in ("RUN uv pip install (whole step)",
                                                      "context upload", "layer export",
                                                      "image tag", "image config")))
            make_cold(client, again.image, records_to_prune(build_records(client), since))
            return wall, phases

        def baseline_side() -> tuple[float, dict]:
            venv = root / "venv"
            shutil.rmtree(venv, ignore_errors=True)
            start = time.perf_counter()
            subprocess.run([uv, "venv", "--quiet", "--python", python, str(venv)], env=uv_env,
                           check=True, capture_output=True)
            venv_s = time.perf_counter() - start
            done = subprocess.run([uv, "pip", "install", "--python", str(venv / "bin" / "python"),
                                   "--require-hashes", "--compile-bytecode", "-r",
                                   str(lock_file)], env=uv_env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                raise BenchError(f"uv pip install failed: {done.stderr.strip()[-400:]}")
            phases = {"uv venv": venv_s, **{f"uv {k}": v
                                            for k, v in uv_phases(done.stderr).items()}}
            return wall, phases

        # warm-up: fills both download caches; the image is then made cold before each build
        since = bench_started = time.time()
        make_cold(client, resolved.image, [])
        with quiet():
            images.ensure_image(resolved, log=lambda _: None)
        make_cold(client, resolved.image, records_to_prune(build_records(client), since))
        baseline_side()
        amlocal_s, baseline_s, amlocal_phases, baseline_phases = [], [], [], []
        try:
            for i in range(repeats):
                order = (amlocal_side, baseline_side) if i % 2 == 0 else (baseline_side,
                                                                          amlocal_side)
                for side in order:
                    wall, phases = side()
                    (amlocal_s if side is amlocal_side else baseline_s).append(wall)
                    (amlocal_phases if side is amlocal_side else baseline_phases).append(phases)
        finally:       # leave no image nor layer records behind (the download cache stays)
            make_cold(client, resolved.image,
                      records_to_prune(build_records(client), bench_started))
    result.amlocal, result.baseline = median(amlocal_s), median(baseline_s)
    result.ratio = result.amlocal / result.baseline
    result.met = result.ratio <= TARGET
    result.baseline_label = (f"uv venv --python {python} + uv pip install --require-hashes "
                             f"--compile-bytecode -r <the lock> (uv {resolved.installer_version}, "
                             f"warm uv cache)")
    result.samples = {"amlocal": amlocal_s, "baseline": baseline_s}
    amlocal_median = _median_phases(amlocal_phases)
    baseline_median = _median_phases(baseline_phases)
    result.details = {"image": resolved.image, "digest": resolved.digest,
                      "builder": "buildkit" if buildkit else "legacy", "lock_s": lock_s,
                      "breakdown_median_s": {"amlocal": amlocal_median,
                                             "baseline": baseline_median}}
    result.notes = [
        f"both sides warm download cache, cold install: the image removed and its BuildKit "
        f"records pruned before each build (kept: base image {resolved.base_image}, the shared "
        f"per-base venv + uv layer, uv's download cache in the cache mount); the baseline "
        f"installs into a new folder from its warm uv cache",
        f"builder: {'BuildKit' if buildkit else 'legacy (no BuildKit on this engine)'}; "
        f"lock (outside the timing): {lock_s:.2f} s",
        "amlocal, where the time goes (median s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in amlocal_median.items()),
        "baseline, where the time goes (median s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in baseline_median.items()),
        "samples (s): amlocal " + " / ".join(f"{x:.2f}" for x in amlocal_s)
        + ", baseline " + " / ".join(f"{x:.2f}" for x in baseline_s)
        + "; per-round ratios " + " / ".join(f"{a / b:.2f}x" for a, b in zip(amlocal_s,
                                                                            baseline_s)),
    ]
    return result


def _median_phases(rounds: list[dict]) -> dict:
    keys = list(dict.fromkeys(k for r in rounds for k in r))
    return {k: round(median([r[k] for r in rounds if k in r]), 3) for k in keys}


BENCHMARKS = {"env-build": env_build}
WHAT = {"env-build": ("cold image build: pandas + scikit-learn + matplotlib", "s",
                      f"ratio <= {TARGET}")}
DEFAULT_REPEATS = {"env-build": 3}
