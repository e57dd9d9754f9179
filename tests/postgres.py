"""A real PostgreSQL server for tests: Debian's ``postgresql`` package, started per session.

``start()`` runs ``initdb`` into a new folder of the system temp dir (short, and reachable by
the ``postgres`` user: pytest's own temp folders are private to root) and starts ``postgres`` on
a free port of 127.0.0.1 with its Unix socket in that folder. PostgreSQL refuses to run as root:
as root the folder is given to the ``postgres`` system user (created when missing) and the
server runs as that user through ``runuser``. The cluster's superuser ``amlocal`` has a
password (TCP connections must give it), so the tests see the URLs a real deployment uses.
``database(pg)`` creates a fresh database and answers its ``postgresql://`` URL; ``stop(pg)``
ends the server and removes the folder.

The tests folder is not a package: conftest files import this module by its path.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "amlocal"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started; the message says why."""


@dataclass
class Postgres:
    folder: Path
    port: int
    password: str
    process: subprocess.Popen

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"


_counter = itertools.count()


def binaries() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` with initdb and postgres."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("postgres") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) of the ``postgres`` system user when running as root (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "postgres"], check=True,
                       capture_output=True)
        entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def start(timeout: float = 60.0) -> Postgres:
    """A running server. Raises PostgresUnavailable."""
    bin_dir = binaries()
    if bin_dir is None:
        raise PostgresUnavailable("PostgreSQL is not installed (Debian: apt-get install -y "
                                  "postgresql, or run scripts/setup.sh)")
    import importlib.util
    if importlib.util.find_spec("psycopg") is None:
        raise PostgresUnavailable("the psycopg driver is missing: pip install 'psycopg[binary]'")
    folder = Path(tempfile.mkdtemp(prefix="amlpg-"))
    try:
        owner = _server_user()
        password = secrets.token_urlsafe(16)
        data = folder / "data"
        pwfile = folder / "pw"
        pwfile.write_text(password + "\n")
        if owner:
            for path in (folder, pwfile):
                os.chown(path, *owner)
        folder.chmod(0o700)
        init = subprocess.run(_as_server_user([
            str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "-E", "UTF8",
            "--no-sync"]), capture_output=True, text=True)
        pwfile.unlink()
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-800:]}")
        port = _free_port()
        log = open(folder / "postgres.log", "ab")
        process = subprocess.Popen(_as_server_user([
            str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
            "-h", "127.0.0.1", "-k", str(folder), "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=300"]), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        pg = Postgres(folder, port, password, process)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise PostgresUnavailable("postgres exited: "
                                          + (folder / "postgres.log").read_text()[-800:])
            try:
                _admin(pg).close()
                return pg
            except Exception as exc:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    process.terminate()
                    raise PostgresUnavailable(f"postgres did not answer in {timeout:.0f}s: "
                                              f"{exc}") from exc
                time.sleep(0.1)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _admin(pg: Postgres):
    import psycopg
    return psycopg.connect(host="127.0.0.1", port=pg.port, user=USER, password=pg.password,
                           dbname="postgres", autocommit=True, connect_timeout=5)


def database(pg: Postgres, prefix: str = "t") -> str:
    """A new, empty database's URL."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    with _admin(pg) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg.url(name)


def stop(pg: Postgres) -> None:
    if pg.process.poll() is None:
        try:  # the postmaster itself (the process started may be runuser): a "fast" shutdown
            pid = int((pg.folder / "data" / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGINT)
        except (OSError, ValueError, IndexError):
            pg.process.terminate()
        try:
            pg.process.wait(30)
        except subprocess.TimeoutExpired:
            pg.process.kill()
            pg.process.wait(10)
    shutil.rmtree(pg.folder, ignore_errors=True)
