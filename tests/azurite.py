"""Azurite (Microsoft's Azure Storage emulator) for tests: install once, start, stop.

``start(data_dir)`` installs the npm package with ``scripts/azurite.sh --install-only`` (once,
into ``~/.cache/amlocal-azurite``) and starts ``azurite-blob`` on a free port of 127.0.0.1 with
``--disableTelemetry``; ``stop(azurite)`` ends that process. With ``AMLOCAL_AZURITE_ENDPOINT``
set (e.g. ``http://127.0.0.1:10000/devstoreaccount1``, an emulator someone else started) nothing
is installed or started.

The account is Azurite's public development account (a documented constant, not a secret).
The tests folder is not a package: conftest files import this module by its path.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "azurite.sh"
ENV_ENDPOINT = "AMLOCAL_AZURITE_ENDPOINT"


class AzuriteUnavailable(RuntimeError):
    """Azurite could not be installed or started; the message says why."""


@dataclass
class Azurite:
    endpoint: str                      # http://127.0.0.1:<port>/devstoreaccount1
    process: subprocess.Popen | None   # None when started by someone else
    log: Path | None = None
    account: str = ACCOUNT
    key: str = KEY

    @property
    def port(self) -> int:
        return int(self.endpoint.split(":")[2].split("/")[0])

    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
                f"BlobEndpoint={self.endpoint};")


def start(data_dir: Path, timeout: float = 30.0) -> Azurite:
    """A running Azurite blob service. Raises AzuriteUnavailable."""
    given = os.environ.get(ENV_ENDPOINT)
    if given:
        az = Azurite(given.rstrip("/"), None)
        if not _answers(az.port):
            raise AzuriteUnavailable(f"{ENV_ENDPOINT}={given} does not answer")
        return az
    binary = _install()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = data_dir / "azurite.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [binary, "--disableTelemetry", "--silent", "--skipApiVersionCheck",
             "--location", str(data_dir), "--blobHost", "127.0.0.1", "--blobPort", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    az = Azurite(f"http://127.0.0.1:{port}/{ACCOUNT}", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(port):
            return az
        if process.poll() is not None:
            raise AzuriteUnavailable(f"azurite-blob exited with {process.returncode}: "
                                     f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    stop(az)
    raise AzuriteUnavailable(f"azurite-blob did not answer on port {port} within {timeout:.0f} s")


def stop(az: Azurite) -> None:
    """End the emulator this module started (never one it did not start)."""
    if az.process is None or az.process.poll() is not None:
        return
    az.process.terminate()
    try:
        az.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        az.process.kill()
        az.process.wait(timeout=10)


# -- internals --------------------------------------------------------------------------------
def _install() -> str:
    try:
        done = subprocess.run(["bash", str(SCRIPT), "--install-only"], capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AzuriteUnavailable(f"{SCRIPT.name} --install-only failed: {exc}") from exc
    binary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not binary or not Path(binary).exists():
        raise AzuriteUnavailable(
            f"{SCRIPT.name} --install-only failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
