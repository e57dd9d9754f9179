"""Served steps behind a hard edge (issue 8, sections 4 and 5): the warm workers' sockets are in
folders only the service's user can use and refuse a call without the service's worker secret,
even from the worker's own uid; the HTTP fronts (pipeline service and model service) check the
key and the length before reading a body, cap it (413), refuse a bad or missing Content-Length
(400/411), time out slow clients (408) and answer bad JSON, over-deep nesting and out-of-range
numbers with 400, each at once; and a good request still answers afterwards."""
from __future__ import annotations

import http.client
import json
import math
import os
import select
import socket
import stat
import textwrap
import time
from pathlib import Path

import pytest

MAX_BODY = 8192
READ_TIMEOUT = 2.0

SCORE = """
def azureml_main(dataframe1=None, dataframe2=None):
    print("CALLED azureml_main", flush=True)
    out = dataframe1.copy()
    out["double"] = dataframe1["surface"] * 2
    return out,
"""


# -- raw HTTP ------------------------------------------------------------------------------------
def _exchange(port: int, head: bytes, body: bytes = b"", *, pause: float = 0.0,
              timeout: float = 15.0) -> tuple[int, dict | str, float, dict]:
    """Send ``head`` (and ``body``, after ``pause`` seconds) on a fresh connection; the status,
    the decoded answer, the seconds it took and the answer's headers."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        if pause:
            time.sleep(pause)
        if body:
            sock.sendall(body)
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        data = response.read()
        elapsed = time.monotonic() - started
        answer = json.loads(data) if data[:1] in (b"{", b"[", b'"') else data.decode()
        return response.status, answer, elapsed, {k.lower(): v for k, v in response.getheaders()}


def _head(path: str, headers: dict) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _until_closed(sock: socket.socket) -> bytes:
    parts = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def _trickled_head(port: int, route: str) -> float:
    """Send a request head a byte every 0.25 s, never ending it; the seconds until the server
    closes the connection."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:
        slow.sendall(b"POST " + route.encode())
        while time.monotonic() - started < 12:
            if select.select([slow], [], [], 0.25)[0]:
                try:
                    if not slow.recv(4096):
                        break
                except OSError:
                    break
                continue
            try:
                slow.sendall(b"x")
            except OSError:
                break
    return time.monotonic() - started


def _post(port: int, path: str, body: bytes, headers: dict | None = None):
    head = _head(path, {"Content-Type": "application/json", "Content-Length": len(body),
                        **(headers or {})})
    return _exchange(port, head, body)


# -- without containers --------------------------------------------------------------------------
def test_json_and_numbers_are_checked_before_any_step_sees_them():
    from amlocal._engine.http_guard import HttpError, Limits, parse_json
    from amlocal.server.pipeline_service import parse_body

    inputs = {"input1": {"schema": {"n": "int64", "small": "uint8", "rate": "float64"}}}

    def bad(body: bytes, match: str):
        with pytest.raises(HttpError, match=match) as caught:
            parse_body(body, inputs)
        assert caught.value.status == 400

    bad(b"[" * 100_000, "nested more than 64 levels")
    nested = 1
    for _ in range(70):
        nested = [nested]
    bad(json.dumps({"Inputs": {"input1": []}, "GlobalParameters": {"x": nested}}).encode(),
        "nested more than 64 levels")
    bad(b'{"Inputs": {"input1": [{"n": ' + b"9" * 5000 + b', "small": 1, "rate": 1}]}}',
        "integer of more than 4300 digits")
    bad(b'{"Inputs": {"input1": [{"n": 1, "small": 1, "rate": NaN}]}}', "NaN, which is not a JSON")
    bad(b'{"Inputs": {"input1": [{"n": 1, "small": 1, "rate": -Infinity}]}}', "-Infinity")
    bad(b'{"Inputs": \xff}', "not UTF-8")
    bad(b'{"Inputs": ', "not JSON")
    rows = {"n": 1, "small": 1, "rate": 1}
    for field, value, match in (
            ("n", 2 ** 63, r"Inputs.input1.n: row 0 value 9223372036854775808 is out of range for "
                           r"the column's type int64 \(-9223372036854775808 to 9223372036854775807\)"),
            ("n", "-" + "9" * 30, r"Inputs.input1.n: row 0 value '-9999.* is out of range"),
            ("n", 1e300, "Inputs.input1.n: row 0 value 1e.300 is out of range"),
            ("small", 256, r"Inputs.input1.small: row 0 value 256 is out of range .* \(0 to 255\)"),
            ("small", -1, r"Inputs.input1.small: row 0 value -1 is out of range"),
            ("rate", "inf", r"Inputs.input1.rate: row 0 value 'inf' is out of range .*finite"),
            ("rate", 1e308 * 10, "the body holds Infinity"),  # what Python's json writes
            ("rate", [1], r"Inputs.input1.rate: row 0 value \[1\] is not a number")):
        bad(json.dumps({"Inputs": {"input1": [{**rows, field: value}]}}).encode(), match)
    frame = parse_body(json.dumps({"Inputs": {"input1": [
        {"n": 2 ** 63 - 1, "small": "255", "rate": 1e308}]}}).encode(), inputs)["input1"]
    assert frame["n"][0] == 2 ** 63 - 1 and frame["small"][0] == 255 and frame["rate"][0] == 1e308
    assert math.isnan(parse_json(b'{"a": NaN}', allow_constants=True)["a"])
    with pytest.raises(ValueError, match="AMLOCAL_SERVICE_MAX_BODY='-1' must be a positive"):
        Limits.from_env({"AMLOCAL_SERVICE_MAX_BODY": "-1"})
    with pytest.raises(ValueError, match="AMLOCAL_SERVICE_READ_TIMEOUT='0' must be a positive"):
        Limits.from_env({"AMLOCAL_SERVICE_READ_TIMEOUT": "0"})
    assert Limits.from_env({"AMLOCAL_SERVICE_MAX_BODY": "100"}).max_body == 100


def test_a_bad_limit_is_refused_before_anything_runs(workspace, monkeypatch, tmp_path, home):
    import pandas as pd
    from amlocal.core import Model
    from amlocal.core.model import InferenceConfig
    from amlocal.core.webservice import Webservice
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    monkeypatch.setenv("AMLOCAL_SERVICE_MAX_BODY", "ten megabytes")
    step = ExecutePythonScriptStep(SCORE, dataframe1=WebServiceInput("input1", pd.DataFrame(
        {"surface": [1]})), name="score")
    with pytest.raises(UserErrorException, match="AMLOCAL_SERVICE_MAX_BODY='ten megabytes' must be"):
        Webservice.deploy_pipeline(workspace, "limits", Pipeline(workspace, [
            step, WebServiceOutput("output1", step.result_dataset)]))
    assert workspace._store.list_runs(workspace_id=workspace._id) == []  # nothing ran
    monkeypatch.setenv("AMLOCAL_SERVICE_MAX_BODY", "1000")
    monkeypatch.setenv("AMLOCAL_SERVICE_READ_TIMEOUT", "soon")
    (tmp_path / "score.py").write_text(ENTRY)
    with pytest.raises(UserErrorException, match="AMLOCAL_SERVICE_READ_TIMEOUT='soon' must be"):
        Model.deploy(workspace, "limits", [], InferenceConfig("score.py", source_directory=str(tmp_path)))
    assert not (home / "services").exists()             # nothing deployed, no folder made


# -- a served pipeline ---------------------------------------------------------------------------
def _in_container(image: str, user: str, folder: Path, target: str, code: str) -> str:
    """Run ``code`` with python in a fresh container of ``image`` as ``user``, ``folder``
    mounted at ``target``; its output."""
    import docker
    client = docker.from_env()
    mount = docker.types.Mount(target=target, source=str(folder), type="bind")
    out = client.containers.run(image, ["python", "-c", code], user=user, mounts=[mount],
                                network_mode="none", remove=True, stderr=True)
    return out.decode().strip()


PROBE = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect({path!r})
except OSError as exc:
    print(type(exc).__name__); sys.exit(0)
s.sendall(b"POST /call HTTP/1.1\\r\\nHost: w\\r\\nContent-Length: 0\\r\\nX-Ports: \\r\\n{extra}\\r\\n")
print(s.recv(4096).split(b"\\r\\n")[0].decode())
"""


@pytest.mark.usefixtures("docker_engine")
def test_a_served_pipeline_is_reachable_only_through_its_key_and_limits(workspace, monkeypatch):
    import docker
    import pandas as pd
    from amlocal.core.webservice import Webservice
    from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    monkeypatch.setenv("AMLOCAL_SERVICE_MAX_BODY", str(MAX_BODY))
    monkeypatch.setenv("AMLOCAL_SERVICE_READ_TIMEOUT", str(READ_TIMEOUT))
    monkeypatch.setenv("AMLOCAL_SERVICE_CONCURRENCY", "1")
    step = ExecutePythonScriptStep(SCORE, dataframe1=WebServiceInput("input1", pd.DataFrame(
        {"surface": [20, 30], "rate": [0.5, 1.5]})), name="score")
    service = Webservice.deploy_pipeline(workspace, "guarded", Pipeline(workspace, [
        step, WebServiceOutput("output1", step.result_dataset)]))
    try:
        folder = Path(service._found["folder"])
        spec = json.loads((folder / "service.json").read_text())
        key = service.get_keys()[0]
        port = service.port
        route = "/services/guarded/execute"
        auth = {"Authorization": f"Bearer {key}"}
        good = json.dumps({"Inputs": {"input1": [{"surface": 4, "rate": 0.25}]}}).encode()
        assert spec["max_body"] == MAX_BODY and spec["read_timeout"] == READ_TIMEOUT

        # -- the worker's socket: its folders, their owners and modes --------------------------
        (container,) = docker.from_env().containers.list(
            filters={"label": ["amlocal.webservice=guarded", "amlocal.webservice_role=worker"]})
        uid, gid = (int(x) for x in container.attrs["Config"]["User"].split(":"))
        sockets = Path(spec["socket_dir"])
        worker_sock = Path(spec["nodes"][0]["socket"])
        assert worker_sock.parent.parent == sockets
        top, own, sock = sockets.stat(), worker_sock.parent.stat(), worker_sock.stat()
        assert stat.S_IMODE(top.st_mode) == 0o700 and top.st_uid == os.getuid()
        assert stat.S_IMODE(own.st_mode) == 0o700 and (own.st_uid, own.st_gid) == (uid, gid)
        assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
        assert sock.st_uid == uid
        secret_file = folder / "worker.secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / "keys.json").stat().st_mode) == 0o600

        # -- other uids cannot reach it; its own uid and root are refused without the secret ---
        image = container.image.id
        relative = worker_sock.relative_to(sockets)
        assert _in_container(image, "12345:12345", sockets, "/s",
                             PROBE.format(path=f"/s/{relative}", extra="")) == "PermissionError"
        assert _in_container(image, "12345:12345", worker_sock.parent, "/s",
                             PROBE.format(path=f"/s/{worker_sock.name}", extra="")) == "PermissionError"
        assert _in_container(image, f"{uid}:{gid}", worker_sock.parent, "/s", PROBE.format(
            path=f"/s/{worker_sock.name}", extra="")).startswith("HTTP/1.1 403")
        assert _in_container(image, f"{uid}:{gid}", worker_sock.parent, "/s", PROBE.format(
            path=f"/s/{worker_sock.name}",
            extra="X-Amlocal-Worker-Secret: guessed-not-known\\r\\n")).startswith("HTTP/1.1 403")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:  # this process's uid
            raw.settimeout(10)
            raw.connect(str(worker_sock))
            raw.sendall(b"POST /call HTTP/1.1\r\nHost: w\r\nContent-Length: 1000000\r\n\r\n")
            answer = _until_closed(raw)
        assert answer.startswith(b"HTTP/1.1 403") and b"X-Amlocal-Worker-Secret" in answer
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:  # the front's framing too
            raw.settimeout(10)
            raw.connect(str(worker_sock))
            raw.sendall(b"AMLW1 guessed-not-known\nCALL dataframe1=json:2 table 2\n{}")
            answer = _until_closed(raw)
        assert answer.startswith(b"403 ") and b"X-Amlocal-Worker-Secret" in answer
        assert "CALLED azureml_main" not in container.logs().decode()   # no user code ran
        if os.getuid() == 0:   # the worker's own uid on the host: the parent folder stops it
            reader, writer = os.pipe()
            child = os.fork()
            if child == 0:
                os.close(reader)
                os.setgid(gid)
                os.setuid(uid)
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    probe.connect(str(worker_sock))
                    os.write(writer, b"connected")
                except OSError as exc:
                    os.write(writer, type(exc).__name__.encode())
                os._exit(0)
            os.close(writer)
            os.waitpid(child, 0)
            assert os.read(reader, 100) == b"PermissionError"
            os.close(reader)

        # -- the key and the length come before the body -----------------------------------
        status, answer, took, headers = _exchange(port, _head(route, {
            "Content-Length": 200 * 1024 * 1024, "Authorization": "Bearer wrong"}))
        assert status == 401 and took < 1.5 and headers["connection"] == "close"
        status, answer, took, _ = _exchange(port, _head("/other", {"Content-Length": 200_000_000}))
        assert status == 404 and took < 1.5
        status, answer, took, headers = _exchange(port, _head(route, {
            "Content-Length": 200 * 1024 * 1024, **auth}))
        assert status == 413 and took < 1.5 and headers["connection"] == "close"
        assert f"at most {MAX_BODY} (AMLOCAL_SERVICE_MAX_BODY" in answer["error"]["message"]
        status, answer, took, _ = _exchange(port, _head(route, {"Content-Length": "9" * 40, **auth}))
        assert status == 413 and took < 1.5
        for length in ("-1", "12abc", "0x10", " "):
            status, answer, took, _ = _exchange(port, _head(route, {"Content-Length": length, **auth}))
            assert status == 400 and took < 1.5, (length, answer)
            assert "Content-Length must be a non-negative integer" in answer["error"]["message"]
        status, answer, took, _ = _exchange(port, _head(route, {"Content-Length": 5, **auth}) + b"{}   ")
        assert status == 400 and took < 1.5 and "Inputs" in answer["error"]["message"]
        status, answer, took, _ = _exchange(port, _head(route, {**auth, "Content-Length": 2,
                                                                "content-length": 3}))
        assert status == 400 and "conflicting Content-Length" in answer["error"]["message"]
        status, answer, took, _ = _exchange(port, _head(route, auth))
        assert status == 411 and took < 1.5 and "needs a Content-Length" in answer["error"]["message"]
        status, answer, _, _ = _exchange(port, _head(route, {**auth, "Transfer-Encoding": "chunked"}),
                                         b"2\r\n{}\r\n0\r\n\r\n")
        assert status == 411 and "Transfer-Encoding is not supported" in answer["error"]["message"]
        # Expect: 100-continue: no "100 Continue" for a refused request
        status, answer, took, _ = _exchange(port, _head(route, {
            "Content-Length": 10, "Expect": "100-continue", "Authorization": "Bearer wrong"}))
        assert status == 401 and took < 1.5
        status, answer, _, _ = _exchange(port, _head(route, {
            "Content-Length": len(good), "Expect": "100-continue", **auth}), good, pause=0.2)
        assert status == 200, answer   # the interim 100 is skipped by http.client

        # -- slow clients get READ_TIMEOUT, not a worker -------------------------------------
        status, answer, took, headers = _exchange(port, _head(route, {"Content-Length": 100, **auth})
                                                  + b'{"Inputs"')
        assert status == 408 and READ_TIMEOUT - 0.5 < took < READ_TIMEOUT + 2.5
        assert "AMLOCAL_SERVICE_READ_TIMEOUT" in answer["error"]["message"]
        assert READ_TIMEOUT - 0.5 < _trickled_head(port, route) < READ_TIMEOUT + 2
        with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:  # mid-body ...
            slow.sendall(_head(route, {"Content-Length": len(good), **auth}) + good[:5])
            status, answer, took, _ = _post(port, route, good, auth)   # ... holds no worker
            assert status == 200 and took < 5, answer

        # -- bad JSON, nesting, numbers: 400 naming the problem ------------------------------
        cases = [
            (b'{"Inputs": {"input1": [{"surface": 1, "rate": 1}]', "not JSON"),
            (b"[" * 3000, "nested more than 64 levels"),
            (b'{"Inputs": {"input1": [{"surface": 1, "rate": 1}]}, "GlobalParameters": '
             + b'{"a": ' * 70 + b"1" + b"}" * 71, "nested more than 64 levels"),
            (b'{"Inputs": {"input1": [{"surface": ' + b"7" * 4400 + b', "rate": 1}]}}',
             "more than 4300 digits"),
            (b'{"Inputs": {"input1": [{"surface": 100000000000000000000000, "rate": 1}]}}',
             "Inputs.input1.surface: row 0 value 100000000000000000000000 is out of range"),
            (b'{"Inputs": {"input1": [{"surface": 1, "rate": NaN}]}}', "NaN"),
            (b'{"Inputs": {"input1": [{"surface": 1, "rate": Infinity}]}}', "Infinity"),
            (b'{"Inputs": {"input1": [{"surface": 1, "rate": 1e999}]}}',
             "Inputs.input1.rate: row 0 value inf is out of range"),
            (b'{"Inputs": {"input1": [{"surface": Infinity, "rate": 1}]}}', "Infinity"),
            (b'{"Inputs": {"input1": [{"surface": 1.5e400, "rate": 1}]}}',
             "Inputs.input1.surface: row 0 value inf is out of range"),
            (b'{"Inputs": {"input1": [{"surface": "\xff", "rate": 1}]}}', "not UTF-8"),
        ]
        for body, match in cases:
            assert len(body) <= MAX_BODY
            status, answer, took, _ = _post(port, route, body, auth)
            assert status == 400 and took < 2, (body[:80], status, answer)
            assert match in answer["error"]["message"], (match, answer)

        # -- still serving: a good request answers, on a kept-alive connection too -----------
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in (1, 2):
            connection.request("POST", route, body=good, headers={
                **auth, "Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200, answer
            assert answer["Results"]["output1"]["value"]["Values"] == [[4, 0.25, 8]]
        connection.close()
        for _ in range(100):         # the engine copies the container's output asynchronously
            if container.logs().decode().count("CALLED azureml_main") >= 4:
                break
            time.sleep(0.1)
        assert container.logs().decode().count("CALLED azureml_main") == 4
        log = service.get_logs()
        assert "POST /services/guarded/execute 413" in log and "408" in log
        assert "Traceback" not in log.split("--- worker")[0]     # the front never failed
    finally:
        service.delete()


# -- a served model ------------------------------------------------------------------------------
ENTRY = """
import json

def init():
    pass

def run(raw_data):
    print("RUN", len(raw_data), flush=True)
    return {"echo": json.loads(raw_data)}
"""


@pytest.mark.usefixtures("docker_engine")
def test_a_served_model_applies_the_same_limits_without_a_key(workspace, tmp_path, monkeypatch):
    from amlocal.core import Model
    from amlocal.core.model import InferenceConfig
    from amlocal.core.webservice import LocalWebservice

    monkeypatch.setenv("AMLOCAL_SERVICE_MAX_BODY", str(MAX_BODY))
    monkeypatch.setenv("AMLOCAL_SERVICE_READ_TIMEOUT", str(READ_TIMEOUT))
    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text(textwrap.dedent(ENTRY))
    (tmp_path / "m.txt").write_text("1")
    model = Model.register(workspace, str(tmp_path / "m.txt"), "m")
    service = Model.deploy(workspace, "limited", [model],
                           InferenceConfig(entry_script="score.py", source_directory=str(app)),
                           LocalWebservice.deploy_configuration())
    try:
        service.wait_for_deployment(timeout=120)
        port = service.port
        assert service.run({"data": [1, 2]}) == {"echo": {"data": [1, 2]}}   # no key needed
        status, answer, took, headers = _exchange(port, _head("/score", {"Content-Length": 200_000_000}))
        assert status == 413 and took < 1.5 and headers["connection"] == "close"
        assert f"at most {MAX_BODY}" in answer["error"]
        status, answer, took, _ = _exchange(port, _head("/score", {"Content-Length": "-1"}))
        assert status == 400 and took < 1.5 and "non-negative integer" in answer["error"]
        status, answer, took, _ = _exchange(port, _head("/score", {}))
        assert status == 411 and took < 1.5
        status, answer, took, _ = _exchange(port, _head("/elsewhere", {"Content-Length": 200_000_000}))
        assert status == 404 and took < 1.5
        status, answer, took, _ = _exchange(port, _head("/score", {"Content-Length": 50}) + b"{")
        assert status == 408 and took < READ_TIMEOUT + 2.5
        for body, match in ((b"[" * 3000, "nested more than 64 levels"),
                            (b'{"data": [1, 2', "not JSON"),
                            (b'{"n": ' + b"1" * 4400 + b"}", "more than 4300 digits"),
                            (b'{"data": "\xff"}', "not UTF-8")):
            status, answer, took, _ = _post(port, "/score", body)
            assert status == 400 and took < 2 and match in answer["error"], (body[:40], answer)
        status, answer, _, _ = _post(port, "/score", b'{"data": NaN}')   # Python's json writes NaN
        assert status == 200 and math.isnan(answer["echo"]["data"])
        status, answer, _, _ = _post(port, "/score", b'{"data": [3]}')
        assert status == 200 and answer == {"echo": {"data": [3]}}
        assert service.get_logs().count("RUN ") == 3      # only the accepted bodies reached run()
    finally:
        service.delete()
