"""What both the environment lock (:mod:`amlocal.compute.environments`) and the image build
(:mod:`amlocal.compute.images`) read: the target a lock is made for (:class:`BaseInfo`, this
machine or a base image, and its architecture names), the Dockerfile templates and installer
names, the host's CA bundle, what a unified ``conda-lock.yml`` installs, and an atomic file
write. A leaf below both, so the lock can ask the image module for its base image and the image
module can read the lock's facts without a circle.
"""
from __future__ import annotations

import contextlib
import os
import platform as _platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amlocal.errors import EnvironmentBuildError

TEMPLATES = Path(__file__).resolve().parent / "templates"
UV_TEMPLATE = "Dockerfile.uv"
CONDA_TEMPLATE = "Dockerfile.conda"
USER_TEMPLATE = "Dockerfile.user"
USER_MANAGED = "user-managed"     # the installer name of an environment nothing is installed in


@dataclass(frozen=True)
class BaseInfo:
    """What a lock is made for: the base image (``""`` for this machine), its Python ``X.Y``,
    its CPU architecture (``x86_64``/``aarch64``; a uv target triple for a macOS or Windows
    host) and its RootFS layer digests."""

    image: str
    python: str
    platform: str
    layers: tuple[str, ...]


def host_base() -> BaseInfo:
    """This machine as a lock target (the local backend without Docker)."""
    py = "%d.%d" % sys.version_info[:2]
    arch = normalize_arch(_platform.machine())
    if sys.platform == "darwin":
        arch = f"{arch}-apple-darwin"
    elif sys.platform == "win32":
        arch = f"{arch}-pc-windows-msvc"
    return BaseInfo(image="", python=py, platform=arch,
                    layers=(f"host:{sys.implementation.name}{py}:{arch}",))


def normalize_arch(arch: str) -> str:
    """``amd64``/``x86_64`` -> ``x86_64``; ``arm64``/``aarch64`` -> ``aarch64``."""
    arch = (arch or "").lower()
    if arch in ("amd64", "x86_64", "x64"):
        return "x86_64"
    if arch in ("arm64", "aarch64", "arm64v8"):
        return "aarch64"
    return arch or "x86_64"


def uv_platform(platform: str) -> str:
    """uv's ``--python-platform`` for a BaseInfo platform: Linux architectures get
    ``<arch>-manylinux_2_28``; a full target triple (macOS/Windows hosts) is used as is."""
    return platform if "-" in platform else f"{platform}-manylinux_2_28"


def conda_platform(arch: str) -> str:
    return "linux-aarch64" if normalize_arch(arch) == "aarch64" else "linux-64"


def major_minor(version: str) -> str:
    return ".".join(str(version).strip().split(".")[:2])


def template_name(installer: str) -> str:
    return {"uv": UV_TEMPLATE, USER_MANAGED: USER_TEMPLATE}.get(installer, CONDA_TEMPLATE)


def template_bytes(installer: str) -> bytes:
    return (TEMPLATES / template_name(installer)).read_bytes()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def ca_bundle() -> str | None:
    """The host's CA bundle: $SSL_CERT_FILE, the Debian bundle, or certifi's; None if none."""
    env = os.environ.get("SSL_CERT_FILE")
    if env and os.path.isfile(env):
        return env
    if os.path.isfile("/etc/ssl/certs/ca-certificates.crt"):
        return "/etc/ssl/certs/ca-certificates.crt"
    try:
        import certifi
        return certifi.where()
    except ImportError:
        return None


def load_recorded_conda_lock(path) -> str:
    """Read a recorded unified ``conda-lock.yml``, validated with conda-lock's own parser.

    Raises EnvironmentBuildError when the file is missing or not a valid unified lockfile.
    """
    path = Path(path)
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # conda-lock's vendored conda is noisy
            from conda_lock.lockfile import parse_conda_lock_file
            parse_conda_lock_file(path)
    except Exception as exc:  # noqa: BLE001 - pydantic/yaml/os errors alike
        raise EnvironmentBuildError(f"{path} is not a valid conda-lock.yml: {exc}") from None
    return path.read_text(encoding="utf-8")


def conda_install_plan(lock_text: str, platform: str = "linux-64") -> dict:
    """What a ``conda-lock.yml`` installs on ``platform`` (main category only):
    ``{"conda": [{name, version, url, md5, sha256}...], "pip": [...]}``."""
    import yaml
    data = yaml.safe_load(lock_text) or {}
    plan: dict = {"conda": [], "pip": []}
    for pkg in data.get("package") or []:
        if pkg.get("platform") != platform:
            continue
        cats = set(pkg.get("categories") or [pkg.get("category", "main")])
        if "main" not in cats or pkg.get("optional"):
            continue
        entry = {"name": pkg["name"], "version": str(pkg["version"]), "url": pkg["url"],
                 "md5": (pkg.get("hash") or {}).get("md5"),
                 "sha256": (pkg.get("hash") or {}).get("sha256")}
        plan.setdefault(pkg.get("manager", "conda"), []).append(entry)
    return plan


def pip_requirements_from_conda_lock(lock_text: str, platform: str = "linux-64") -> str:
    """The lock's pip entries as a ``--require-hashes`` requirements file (micromamba installs
    only the conda entries of a unified lockfile)."""
    lines = []
    for p in conda_install_plan(lock_text, platform)["pip"]:
        line = f"{p['name']} @ {p['url']}"
        if p.get("sha256"):
            line += f" --hash=sha256:{p['sha256']}"
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")
