"""``amlocal studio start|status|stop`` and ``amlocal studio keys create|list|revoke`` through the
real ``amlocal`` command in subprocesses, against the real server process and store."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx

AMLOCAL = [sys.executable, "-m", "amlocal.cli"]


def amlocal(*args, timeout=90) -> subprocess.CompletedProcess:
    return subprocess.run([*AMLOCAL, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


def _proc_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (killed, not yet reaped by its parent) is gone for our purposes
        return "Z" not in open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0]
    except OSError:
        return True


def test_start_status_stop(home):
    none = amlocal("studio", "status")
    assert none.returncode == 1
    assert "No studio server runs" in none.stdout

    started = amlocal("studio", "start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{url}/health", timeout=10).json() == {"status": "Healthy"}

    status = amlocal("studio", "status", "-o", "json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["running"] is True and data["url"] == url
    assert _proc_alive(data["pid"])
    assert data["startedUtc"] and data["home"] == str(home.resolve())
    table = amlocal("studio", "status")
    assert url in table.stdout and str(data["pid"]) in table.stdout

    again = amlocal("studio", "start")  # a second start finds the running one
    assert again.returncode == 0 and again.stdout.strip() == url
    assert "already runs" in again.stderr

    stopped = amlocal("studio", "stop")
    assert stopped.returncode == 0 and url in stopped.stdout
    deadline = time.monotonic() + 10
    while _proc_alive(data["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _proc_alive(data["pid"])
    assert amlocal("studio", "status").returncode == 1
    assert "No studio server runs" in amlocal("studio", "stop").stdout


def test_start_on_an_explicit_port_and_a_taken_one(home, monkeypatch):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    monkeypatch.delenv("AMLOCAL_STUDIO_PORT")
    started = amlocal("studio", "start", "--port", str(free))
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"http://127.0.0.1:{free}"
    amlocal("studio", "stop")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        refused = amlocal("studio", "start", "--port", str(port))
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: ") and "--port" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_foreground_serves_until_interrupted(home):
    process = subprocess.Popen([*AMLOCAL, "studio", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        from amlocal._engine import studio
        deadline = time.monotonic() + 60
        info = None
        while info is None and time.monotonic() < deadline and process.poll() is None:
            info = studio.running()
            time.sleep(0.1)
        assert info is not None, process.stderr.read() if process.poll() is not None else ""
        assert info.pid == process.pid  # the command became the server (no extra process)
        assert httpx.get(f"{info.url}/health", timeout=10).status_code == 200
        second = amlocal("studio", "--port", "0")
        assert second.returncode == 1 and "already runs" in second.stderr
        process.send_signal(signal.SIGINT)  # Ctrl-C: the server stops and forgets itself
        assert process.wait(timeout=30) in (0, -signal.SIGINT, 130)
        assert not (home / "studio" / "server.json").exists()
        assert studio.running() is None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_keys_create_list_revoke(home):
    from amlocal.store import open_store
    made = amlocal("studio", "keys", "create", "ci-bot")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("aml_") and len(key) > 30
    assert "shown only now" in made.stderr
    info = open_store().verify_api_key(key)
    assert info is not None and info.name == "ci-bot"

    listed = amlocal("studio", "keys", "list", "-o", "json")
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["name"], r["revokedUtc"]) for r in rows] == [(info.id, "ci-bot", None)]
    assert key not in listed.stdout and key not in amlocal("studio", "keys", "list").stdout

    revoked = amlocal("studio", "keys", "revoke", "ci-bot")
    assert revoked.returncode == 0 and info.id in revoked.stdout
    assert open_store().verify_api_key(key) is None
    rows = json.loads(amlocal("studio", "keys", "list", "-o", "json").stdout)
    assert rows[0]["revokedUtc"]
    again = amlocal("studio", "keys", "revoke", info.id)
    assert again.returncode == 1 and "no active key" in again.stderr

    as_json = json.loads(amlocal("studio", "keys", "create", "second", "-o", "json").stdout)
    assert open_store().verify_api_key(as_json["key"]).id == as_json["id"]
    bad = amlocal("studio", "keys", "create", " ")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ")

