"""Start and stop the example's own PostgreSQL server (Debian's ``postgresql`` package).

    python postgres.py start     # prints shell lines: export PGFOLDER=... PGPORT=... PGUSER=...
    python postgres.py stop FOLDER

``start`` runs ``initdb`` into a new folder of the system temp dir and starts ``postgres`` on a
free port of 127.0.0.1 (its Unix socket in that folder), with a random password (or
``$IMMO_PG_PASSWORD``) for the user ``immo`` and a database ``immo``. PostgreSQL refuses to run as root: as root the folder belongs to
the ``postgres`` system user (created when missing) and the server runs as that user. ``stop``
ends the server and removes the folder.
"""
import glob
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "immo"


def _bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    if shutil.which("initdb") and shutil.which("postgres"):
        return Path(shutil.which("initdb")).parent
    sys.exit("PostgreSQL is not installed: apt-get install -y postgresql (scripts/setup.sh "
             "does it as root)")


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _server_owner():
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", "postgres"], check=True, capture_output=True)
        entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> None:
    import psycopg
    bin_dir = _bin()
    folder = Path(tempfile.mkdtemp(prefix="immo-pg-"))
    password = os.environ.get("IMMO_PG_PASSWORD") or secrets.token_urlsafe(16)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    owner = _server_owner()
    if owner:
        for path in (folder, pwfile):
            os.chown(path, *owner)
    folder.chmod(0o700)
    subprocess.run(_as_server_user([
        str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", USER, f"--pwfile={pwfile}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "-E", "UTF8",
        "--no-sync"]), check=True, capture_output=True)
    pwfile.unlink()
    port = _free_port()
    with open(folder / "postgres.log", "ab") as log:
        subprocess.Popen(_as_server_user([
            str(bin_dir / "postgres"), "-D", str(folder / "data"), "-p", str(port),
            "-h", "127.0.0.1", "-k", str(folder)]), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    for _ in range(600):
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=USER, password=password,
                                 dbname="postgres", autocommit=True, connect_timeout=2) as conn:
                conn.execute(f"CREATE DATABASE {USER}")
            break
        except psycopg.OperationalError:
            time.sleep(0.1)
    else:
        sys.exit("postgres did not start: " + (folder / "postgres.log").read_text()[-800:])
    for name, value in (("PGFOLDER", str(folder)), ("PGHOST", "127.0.0.1"), ("PGPORT", str(port)),
                        ("PGUSER", USER), ("PGPASSWORD", password), ("PGDATABASE", USER)):
        print(f"export {name}={shlex.quote(value)}")


def stop(folder: str) -> None:
    pid_file = Path(folder) / "data" / "postmaster.pid"
    if pid_file.is_file():
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGINT)   # a "fast" shutdown
            for _ in range(300):
                os.kill(pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
    print(f"stopped the PostgreSQL server of {folder}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["start"]:
        start()
    elif sys.argv[1:2] == ["stop"] and len(sys.argv) == 3:
        stop(sys.argv[2])
    else:
        sys.exit(__doc__)
