"""A real MySQL-compatible server for tests: Debian's ``mariadb-server`` package, per session.

``start()`` runs ``mariadb-install-db`` into a new folder of the system temp dir (reachable by
the ``mysql`` user: pytest's own temp folders are private to root) and starts ``mariadbd`` on a
free port of 127.0.0.1 with its Unix socket in that folder. As root the folder is given to the
``mysql`` system user (created when missing) and ``mariadbd --user=mysql`` drops to that user
itself. Once the server answers, the Unix socket (where ``root@localhost`` has no password yet)
is used once to create the user ``amlocal`` with a random password and every privilege, to give
``root@localhost`` a random password nobody keeps and to drop the other root accounts: TCP
clients must then give ``amlocal``'s password, so the tests see the URLs a real deployment uses.
``database(server)`` creates a fresh database and answers its ``mysql://`` URL; ``stop(server)``
ends the server and removes the folder.

The tests folder is not a package: conftest files import this module by its path.
"""
from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "amlocal"


class MariaDBUnavailable(RuntimeError):
    """No MariaDB server could be started; the message says why."""


@dataclass
class MariaDB:
    folder: Path
    port: int
    password: str
    process: subprocess.Popen

    def url(self, database: str = "") -> str:
        return f"mysql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"


_counter = itertools.count()


def binaries() -> tuple[str, str] | None:
    """``(mariadb-install-db, mariadbd)`` when both are installed."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = (shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
              or shutil.which("mysqld", path="/usr/sbin"))
    return (install, server) if install and server else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) of the ``mysql`` system user when running as root (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("mysql")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "mysql"], check=True,
                       capture_output=True)
        entry = pwd.getpwnam("mysql")
    return entry.pw_uid, entry.pw_gid


def start(timeout: float = 60.0) -> MariaDB:
    """A running server with the user ``amlocal``. Raises MariaDBUnavailable."""
    found = binaries()
    if found is None:
        raise MariaDBUnavailable("MariaDB is not installed (Debian: apt-get install -y "
                                 "mariadb-server, or run scripts/setup.sh)")
    import importlib.util
    if importlib.util.find_spec("pymysql") is None:
        raise MariaDBUnavailable("the pymysql driver is missing: pip install pymysql")
    install, server = found
    folder = Path(tempfile.mkdtemp(prefix="amlmy-"))
    try:
        owner = _server_user()
        user = ["--user=mysql"] if owner else []
        if owner:
            os.chown(folder, *owner)
        folder.chmod(0o700)
        data = folder / "data"
        init = subprocess.run([
            install, "--no-defaults", f"--datadir={data}", *user,
            "--auth-root-authentication-method=normal", "--skip-test-db",
            "--skip-name-resolve"], capture_output=True, text=True)
        if init.returncode != 0:
            raise MariaDBUnavailable("mariadb-install-db failed: "
                                     + (init.stderr or init.stdout).strip()[-800:])
        port = _free_port()
        log = open(folder / "mariadb.log", "ab")
        process = subprocess.Popen([
            server, "--no-defaults", f"--datadir={data}", f"--socket={folder / 'sock'}",
            f"--port={port}", "--bind-address=127.0.0.1", *user, "--skip-name-resolve",
            f"--pid-file={folder / 'mariadb.pid'}", f"--log-error={folder / 'mariadb.log'}",
            "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
            "--innodb-buffer-pool-size=64M", "--max-connections=300"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        server_ = MariaDB(folder, port, secrets.token_urlsafe(16), process)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise MariaDBUnavailable("mariadbd exited: "
                                         + (folder / "mariadb.log").read_text()[-800:])
            try:
                _create_user(server_)
                break
            except Exception as exc:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    _end(process)
                    raise MariaDBUnavailable(f"mariadbd did not answer in {timeout:.0f}s: "
                                             f"{exc}") from exc
                time.sleep(0.2)
        _admin(server_).close()
        return server_
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _create_user(server: MariaDB) -> None:
    """Through the Unix socket as ``root`` (no password yet): the password-protected ``amlocal``
    user, and no root account left reachable without a password."""
    import pymysql
    conn = pymysql.connect(unix_socket=str(server.folder / "sock"), user="root", password="",
                           autocommit=True, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE OR REPLACE USER '{USER}'@'%%' IDENTIFIED BY %s",
                        (server.password,))
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION")
            cur.execute("SELECT host FROM mysql.user WHERE user = 'root' "
                        "AND host <> 'localhost'")
            for (host,) in cur.fetchall():
                cur.execute("DROP USER 'root'@%s", (host,))
            cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s",
                        (secrets.token_urlsafe(24),))
    finally:
        conn.close()


def _admin(server: MariaDB):
    import pymysql
    return pymysql.connect(host="127.0.0.1", port=server.port, user=USER,
                           password=server.password, autocommit=True, connect_timeout=5)


def database(server: MariaDB, prefix: str = "t") -> str:
    """A new, empty database's URL (``mysql://amlocal:pw@127.0.0.1:port/t_<n>``)."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    conn = _admin(server)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return server.url(name)


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()   # mariadbd shuts down cleanly on SIGTERM
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def stop(server: MariaDB) -> None:
    _end(server.process)
    shutil.rmtree(server.folder, ignore_errors=True)
