"""RunService: the step API, served to running steps over a Unix socket and/or TCP.

The pipeline runner hosts one on the host while a pipeline runs. Steps reach it through
:class:`amlocal.runservice.client.RemoteStore` (see that module for the wire format). Each step
gets a token bound to its run (:meth:`RunService.grant`). What a token may do is the step API
(:mod:`._policy`): read its workspace's runs, datasets, datastores (never their credentials),
models and environments; read the files of its own pipeline run's tree; write to its own run,
its child runs and (metrics, tags, properties) its parent run; create child runs of itself;
register models, datasets and environments in its own workspace; and nothing else (HTTP 403).
Every identifier, name, path and version a step sends is checked here (:mod:`._validate`,
HTTP 400), models are fetched by (workspace, name, version) looked up in the store, and the
store's file layer refuses any path resolving outside its root.

What is encrypted: over TCP with ``tls=`` (an :class:`ssl.SSLContext`; the runner serves steps
on Ray cluster nodes so, with the certificate :mod:`._tls` creates under the home), every request
and answer of the step API (tokens, metrics, logs a step sends, artifacts, models, datasets)
travels over TLS 1.2+, and a step verifies the service against the CA it is handed
(``AMLOCAL_RUN_SERVICE_CA``). A client speaking plain HTTP to a TLS listener gets HTTP 400 saying
so (nothing it sent is read as a request). Without ``tls=`` tokens travel in clear text: serve
plain TCP only on a network you trust (or through an SSH tunnel). The Unix socket never leaves
the machine. What is NOT encrypted by amlocal: the Ray cluster's own traffic (task arguments such
as the step's environment variables, which hold its token, and the lines its output streams
back to the runner) unless Ray's own TLS is configured (``RAY_USE_TLS=1`` and its certificate
variables on every node), the store's connection (PostgreSQL: use ``sslmode=`` in
``AMLOCAL_STORE_URL``) and shared artifact locations (their own transports). Standard library
only (``http.server``, ``socketserver``, ``ssl``).
"""
from __future__ import annotations

import http.server
import inspect
import json
import logging
import os
import secrets
import shutil
import socket
import socketserver
import ssl
import stat
import tarfile
import tempfile
import threading
import traceback
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from ..errors import AmlocalError, NotFoundError, StoreError
from ..store.base import Store
from ..store.entities import from_wire, to_wire
from . import _validate as check
from ._metric_wire import columns_to_wire
from ._listeners import _TcpHTTPServer, _TlsHTTPServer, _UnixHTTPServer, _wake
from ._policy import SERVICE_METHODS, STEP_API, Refusal as _Refusal, Scope, StepPolicy, scope_of
from .client import (API_PREFIX, BLOCK, BOUND_HEADER, ENTRY_HEADER, META_LENGTH_HEADER,
                     _BUILTIN_ERRORS, safe_extract)

log = logging.getLogger("amlocal.runservice")

# every store method: the ones outside the step API are refused (403), the rest unknown (404)
STORE_METHODS = frozenset(Store.__abstractmethods__)
ALL_METHODS = STORE_METHODS | STEP_API
MAX_META_BYTES = 256 << 20
# Path arguments of the file methods: their payload travels in the body, not in the JSON.
FILE_PARAMETERS = {"put_artifact": "source", "fetch_artifact": "destination",
                   "append_artifact": "data", "register_model": "source",
                   "fetch_model": "target_dir", "fetch_dataset": "target_dir"}


class _AnswerStarted(Exception):
    """A file answer failed after its headers were sent: the connection is dropped instead."""


class _BodyReader:
    """The request body, de-chunked or bounded by Content-Length."""

    def __init__(self, rfile, length: int | None, chunked: bool):
        self._rfile = rfile
        self._chunked = chunked
        self._left = length or 0  # bytes left in the body (or in the current chunk)
        self._done = not chunked and not length

    def _broken(self) -> ConnectionError:
        return ConnectionError("the request body ended early: the client gave up or was cut off")

    def _next_chunk(self) -> None:
        line = self._rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise self._broken()
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ConnectionError(f"the request body is not valid chunked data: "
                                  f"{line[:40]!r}") from None
        if size == 0:
            while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self._done = True
        self._left = size

    def read(self, n: int = -1) -> bytes:
        out = []
        want = n if n is not None and n >= 0 else None
        while not self._done and (want is None or want > 0):
            if self._left == 0:
                if not self._chunked:
                    self._done = True
                    break
                self._next_chunk()
                continue
            take = self._left if want is None else min(want, self._left)
            data = self._rfile.read(min(take, BLOCK))
            if not data:
                raise self._broken()
            out.append(data)
            self._left -= len(data)
            if want is not None:
                want -= len(data)
            if self._chunked and self._left == 0 and self._rfile.readline(3) not in (b"\r\n", b"\n"):
                raise self._broken()
        return b"".join(out)

    def read_exact(self, n: int) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise self._broken()
        return data

    def drain(self) -> None:
        while self.read(BLOCK):
            pass


class _ChunkedWriter:
    """A write-only file that sends what it is given as HTTP chunks."""

    def __init__(self, wfile):
        self._wfile = wfile

    def write(self, data) -> int:
        if data:
            self._wfile.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._wfile.write(b"0\r\n\r\n")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "amlocal-runservice/1"
    timeout = 600  # a client silent this long is dropped
    service: "RunService"  # set on the per-service subclass

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        log.debug("run service: " + format, *args)

    def do_POST(self):
        self.close_connection = True
        body = None
        try:
            length = self.headers.get("Content-Length")
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            body = _BodyReader(self.rfile, int(length) if length and not chunked else None, chunked)
            self.service._handle(self, body)
        except _Refusal as exc:
            self._answer_error(body, exc.status, exc.type_name, exc.message)
        except (AmlocalError, *_BUILTIN_ERRORS.values()) as exc:
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            self._answer_error(body, 400, type(exc).__name__, message)
        except ConnectionError as exc:
            log.debug("run service: %s", exc)
        except _AnswerStarted as exc:
            log.error("run service: %s broke off while answering: %s", self.path, exc.__cause__)
        except Exception as exc:  # reported to the client; the traceback stays in the host log
            log.error("run service: %s failed:\n%s", self.path, traceback.format_exc())
            self._answer_error(body, 500, type(exc).__name__, str(exc))

    # -- answers ----------------------------------------------------------------------------
    def _answer_error(self, body, status: int, type_name: str, message: str) -> None:
        try:
            if body is not None:
                body.drain()  # let the client finish sending, so it reads this answer
        except (OSError, ValueError):
            return
        self._send_json(status, {"error": {"type": type_name, "message": message}})

    def _headers(self, status: int, content_type: str, length: int | None = None,
                 **extra: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()

    def _send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        self._headers(status, "application/json", len(data))
        self.wfile.write(data)

    def _send_bytes(self, data: bytes) -> None:
        self._headers(200, "application/octet-stream", len(data))
        self.wfile.write(data)

    def _send_file(self, path: Path) -> None:
        with open(path, "rb") as f:
            self._headers(200, "application/octet-stream", os.fstat(f.fileno()).st_size)
            try:
                shutil.copyfileobj(f, self.wfile, BLOCK)
            except Exception as exc:  # the client sees a short body: IncompleteRead
                raise _AnswerStarted(str(exc)) from exc

    def _send_tar(self, path: Path, **headers: str) -> None:
        """Send ``path`` (a file or folder, under its own name) as a tar stream."""
        self._headers(200, "application/x-tar", None, **{ENTRY_HEADER: path.name, **headers})
        writer = _ChunkedWriter(self.wfile)
        try:
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT, bufsize=BLOCK,
                              dereference=True) as tar:
                tar.add(str(path), arcname=path.name, recursive=True)
        except Exception as exc:  # no last chunk: the client sees the archive is incomplete
            raise _AnswerStarted(str(exc)) from exc
        writer.close()  # the last chunk: the client knows the archive is complete


class RunService:
    """Serve ``store`` to steps: on a Unix socket at ``socket_path`` and/or over TCP on
    ``host``:``port`` (``port=0`` picks a free port): HTTPS when ``tls`` (a server-side
    :class:`ssl.SSLContext`, e.g. :meth:`._tls.ServiceTls.server_context`) is given, else plain
    HTTP. :meth:`serve_tcp` adds a TCP listener to a running service (same tokens).

    ``start()`` serves on daemon threads and returns self; ``stop()`` closes the servers and
    removes the socket file; ``with RunService(...) as service:`` does both. The socket is made
    mode 0o666 so a container running as another uid can connect; the token is what guards it.
    ``spool_dir`` holds files in transit (default: the system's temporary folder).
    """

    def __init__(self, store: Store, *, socket_path: str | None = None, host: str | None = None,
                 port: int = 0, spool_dir: str | None = None,
                 tls: ssl.SSLContext | None = None):
        if socket_path is None and host is None:
            raise ValueError("RunService needs a socket_path, a host, or both")
        self.store = store
        self.socket_path = None if socket_path is None else os.path.abspath(socket_path)
        self.host = host
        self.port = port
        self.tls = tls
        self.spool_dir = spool_dir
        self._tokens: dict[str, str] = {}
        self._scopes: dict[str, Scope] = {}  # run id -> what its token may reach
        self._policy = StepPolicy(store)
        self._lock = threading.Lock()
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self._signatures = {name: inspect.signature(getattr(Store, name))
                            for name in STEP_API - SERVICE_METHODS}
        self._signatures["fetch_dataset"] = inspect.signature(_fetch_dataset_signature)
        self._signatures["fetch_model"] = inspect.signature(_fetch_model_signature)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "RunService":
        if self._servers:
            return self
        self._handler = type("RunServiceHandler", (_Handler,), {"service": self})
        try:
            if self.socket_path is not None:
                self._servers.append(self._bind_unix(self._handler))
            if self.host is not None:
                self._servers.append(self._bind_tcp(self.host, self.port, self.tls))
                self.port = self._servers[-1].server_address[1]
        except BaseException:
            self.stop()
            raise
        for server in self._servers:
            self._serve(server)
        return self

    def _serve(self, server) -> None:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"amlocal-runservice-{len(self._threads)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _bind_tcp(self, host: str, port: int, tls: ssl.SSLContext | None):
        base = _TlsHTTPServer if tls is not None else _TcpHTTPServer
        fields = {"ssl_context": tls} if tls is not None else {}
        if ":" in host:
            fields["address_family"] = socket.AF_INET6
        try:
            return type("_Listener", (base,), fields)((host, port), self._handler)
        except OSError as exc:
            raise StoreError(f"the run service cannot listen at {_url_host(host)}:{port}: {exc}. "
                             "Give an address of this machine, and a free port or none (a free "
                             "one is picked)") from exc

    def serve_tcp(self, host: str, port: int = 0, tls: ssl.SSLContext | None = None) -> str:
        """Also listen on TCP at ``host``:``port`` (0: a free port), HTTPS with ``tls``; the
        service must be started. Returns the listener's URL (``https://host:port``). Tokens are
        the service's: one granted before or after reaches every listener."""
        if not self._servers:
            raise RuntimeError("start the run service before adding a listener to it")
        with self._lock:
            server = self._bind_tcp(host, port, tls)
            self._servers.append(server)
            self._serve(server)
        scheme = "https" if tls is not None else "http"
        return f"{scheme}://{_url_host(host)}:{server.server_address[1]}"

    def _bind_unix(self, handler) -> socketserver.BaseServer:
        path = self.socket_path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(path):
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                raise StoreError(f"cannot serve the run service at {path}: a file that is not a "
                                 "socket is in the way; choose another socket path")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
                raise StoreError(f"another run service is already listening at {path}; stop it "
                                 "or choose another socket path")
            except OSError:
                os.unlink(path)  # left over by a runner that died
            finally:
                probe.close()
        try:
            server = _UnixHTTPServer(path, handler)
        except OSError as exc:
            limit = " (Unix socket paths are limited to about 100 bytes)" \
                if len(os.fsencode(path)) > 100 else ""
            raise StoreError(f"cannot serve the run service at {path}: {exc}{limit}; choose a "
                             "shorter socket path") from exc
        os.chmod(path, 0o666)
        return server

    def stop(self) -> None:
        for server, thread in zip(self._servers, self._threads):  # the started ones
            asking = threading.Thread(target=server.shutdown, daemon=True)
            asking.start()
            _wake(server)         # the loop sees the request now, not after its poll interval
            asking.join(timeout=5)
            thread.join(timeout=5)
        for server in self._servers:
            server.server_close()
        self._servers, self._threads = [], []
        if self.socket_path is not None and os.path.lexists(self.socket_path):
            try:
                if stat.S_ISSOCK(os.lstat(self.socket_path).st_mode):
                    os.unlink(self.socket_path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "RunService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``unix://<socket_path>`` when serving on a socket, else ``http://host:port``."""
        if self.socket_path is not None:
            return f"unix://{self.socket_path}"
        return self.tcp_url

    @property
    def tcp_url(self) -> str:
        """``https://host:port`` with ``tls``, else ``http://host:port``."""
        if self.host is None:
            raise ValueError("this run service does not listen on TCP (give it a host)")
        return f"{'https' if self.tls is not None else 'http'}://{_url_host(self.host)}:{self.port}"

    # -- tokens -----------------------------------------------------------------------------
    def grant(self, run_id: str) -> str:
        """A new token for the step running ``run_id`` (give it to the step as
        ``AZUREML_RUN_TOKEN``)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = run_id
        return token

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on (unknown tokens are ignored)."""
        with self._lock:
            self._tokens.pop(token, None)

    # -- requests ---------------------------------------------------------------------------
    def _handle(self, request: _Handler, body: _BodyReader) -> None:
        path = unquote(urlsplit(request.path).path)
        base = path.rsplit(API_PREFIX, 1)
        method = base[1] if len(base) == 2 and "/" not in base[1] else ""
        owner = self._authenticate(request.headers.get("Authorization", ""))
        if method not in ALL_METHODS:
            raise _Refusal(404, f"the run service has no method {method!r}; it serves: "
                                f"{', '.join(sorted(STEP_API))}", "NotFoundError")
        scope = self._scope(owner)
        if method not in STEP_API:
            self._policy.check(scope, method, {})  # refused, saying what a step may do
        try:
            meta_length = int(request.headers.get(META_LENGTH_HEADER, ""))
        except ValueError:
            raise _Refusal(400, f"the request has no {META_LENGTH_HEADER} header",
                           "StoreError") from None
        if not 0 < meta_length <= MAX_META_BYTES:
            raise _Refusal(400, f"{META_LENGTH_HEADER} must be between 1 and {MAX_META_BYTES}",
                           "StoreError")
        try:
            kwargs = json.loads(body.read_exact(meta_length))
            if not isinstance(kwargs, dict):
                raise TypeError("the request's JSON must be an object of keyword arguments")
            columns = (kwargs.pop("records") if method == "log_metrics"
                       and isinstance(kwargs.get("records"), dict) else None)
            kwargs = from_wire(kwargs)
            if columns is not None:  # a batch as columns (._metric_wire), checked as it is read
                kwargs["records"] = check.metric_columns(columns)
            if method == "get_metric_records" and kwargs.get("name") is not None:
                check.text(kwargs["name"], "metric name")
            if method in FILE_PARAMETERS:
                if FILE_PARAMETERS[method] in kwargs:
                    raise TypeError(f"{FILE_PARAMETERS[method]!r} travels in the request body")
                kwargs[FILE_PARAMETERS[method]] = None
            bound = self._signatures[method].bind(None, **kwargs)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise _Refusal(400, f"bad arguments for {method}: {exc}", "TypeError") from None
        arguments = {k: v for k, v in bound.arguments.items()
                     if k != "self" and k != FILE_PARAMETERS.get(method)}
        arguments.update(arguments.pop("fields", {}))  # update_run(**fields)
        arguments = self._policy.check(scope, method, arguments)

        if method == "put_artifact":
            self._put_artifact(request, body, arguments)
        elif method == "append_artifact":
            self.store.append_artifact(data=body.read(), **arguments)
            request._send_json(200, {"result": None})
        elif method == "register_model":
            self._register_model(request, body, arguments)
        else:
            body.drain()
            if method == "fetch_artifact":
                self._fetch_artifact(request, arguments)
            elif method == "fetch_model":
                self._fetch_model(request, arguments)
            elif method == "fetch_dataset":
                self._fetch_dataset(request, arguments)
            elif method == "read_artifact":
                request._send_bytes(bytes(self.store.read_artifact(**arguments)))
            elif method == "get_metric_records":  # as columns (._metric_wire), no records
                request._send_json(200, {"result": columns_to_wire(
                    self.store.get_metric_columns(**arguments))})
            else:
                result = self._policy.answer(scope, method,
                                             getattr(self.store, method)(**arguments))
                request._send_json(200, {"result": to_wire(result)})

    def _authenticate(self, header: str) -> str:
        scheme, _, token = header.partition(" ")
        with self._lock:
            owner = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if owner is None:
            raise _Refusal(401, "the run service refuses this request: its token is missing, "
                                "unknown or revoked. A step's token is AZUREML_RUN_TOKEN, granted "
                                "by its runner for as long as the step runs")
        return owner

    def _scope(self, run_id: str) -> Scope:
        with self._lock:
            found = self._scopes.get(run_id)
        if found is None:
            found = scope_of(self.store, run_id)
            with self._lock:
                self._scopes[run_id] = found
        return found

    # -- file methods -----------------------------------------------------------------------
    def _spool(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="amlocal-rs-", dir=self.spool_dir))

    def _put_artifact(self, request, body, args) -> None:
        folder = self._spool()
        try:
            tmp = folder / "payload"
            with open(tmp, "wb") as out:
                while True:
                    block = body.read(BLOCK)
                    if not block:
                        break
                    out.write(block)
            self.store.put_artifact(args["run_id"], args["name"], tmp)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        request._send_json(200, {"result": None})

    def _fetch_artifact(self, request, args) -> None:
        folder = self._spool()
        try:
            path = self.store.fetch_artifact(args["run_id"], args["name"], folder / "payload")
            request._send_file(Path(path))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _register_model(self, request, body, args) -> None:
        folder = self._spool()
        try:
            try:
                with tarfile.open(fileobj=body, mode="r|", bufsize=BLOCK) as tar:
                    entries = safe_extract(tar, folder)
            except tarfile.TarError as exc:
                raise StoreError(f"the model's files did not arrive as a valid tar stream: "
                                 f"{exc}") from exc
            body.drain()  # up to the last chunk: proof that the client sent everything
            if len(entries) != 1:
                raise StoreError(f"a model upload must hold one file or folder, not {entries}")
            result = self.store.register_model(args["info"], folder / entries[0])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        request._send_json(200, {"result": to_wire(result)})

    def _fetch_model(self, request, args) -> None:
        """Send the files of the model (workspace, name, version) as the store records it;
        nothing the step sent names a path."""
        info = self.store.get_model(args["workspace_id"], args["name"], args["version"])
        if info is None:
            raise NotFoundError(f"no model {args['name']}"
                                f"{'' if args['version'] is None else ':' + str(args['version'])}"
                                " in this workspace")
        folder = self._spool()
        try:
            path = Path(self.store.fetch_model(info, folder))
            request._send_tar(path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _fetch_dataset(self, request, args) -> None:
        """Copy a dataset's files for the token's workspace (see ``_datasets``) and send them
        as a tar; the ``bound`` sources travel in a header."""
        from ._datasets import copy_dataset
        folder = self._spool()
        try:
            copied, bound = copy_dataset(self.store, args["workspace_id"], args["definition"], folder)
            request._send_tar(copied, **{BOUND_HEADER: quote(json.dumps(bound))})
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _fetch_dataset_signature(self, workspace_id: str, definition: dict, target_dir=None):
    """The arguments of the run service's ``fetch_dataset`` (it is not a store method)."""


def _fetch_model_signature(self, workspace_id: str, name: str, version: int | None = None,
                           target_dir=None):
    """The arguments of the run service's ``fetch_model``: the model is looked up by key."""
