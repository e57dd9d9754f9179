"""The limits every amlocal web front applies to a request before any user code sees it: the
pipeline web service (:mod:`amlocal.server.pipeline_service`), the scoring server of a deployed
model (:mod:`amlocal._runtime.scoring`) and the warm workers (:mod:`amlocal._runtime.studio_worker`).
Standard library only (it runs inside containers too).

- ``AMLOCAL_SERVICE_MAX_BODY`` (bytes, default :data:`DEFAULT_MAX_BODY`, 10 MiB): a request whose
  ``Content-Length`` is larger answers 413 before a byte of its body is read.
- A POST must say its ``Content-Length``: without one (or with ``Transfer-Encoding``, which is not
  supported) it answers 411; a value that is not a non-negative decimal integer answers 400.
- ``AMLOCAL_SERVICE_READ_TIMEOUT`` (seconds, default :data:`DEFAULT_READ_TIMEOUT`): the time a
  client has to send a whole request (head and body). A body not complete by then answers 408; a
  head not complete by then (or an idle kept-alive connection) is closed. A slow client therefore
  holds one connection thread for at most that long, and never a worker.
- JSON bodies: UTF-8, at most :data:`MAX_JSON_DEPTH` levels of nesting, integers of at most 4300
  digits, and (unless a front allows them) no ``NaN``/``Infinity``; anything else answers 400
  naming the problem.

An error answered before the body was read closes the connection (the unread body cannot be
told from the next request). A well-formed HTTP/1.0 or 1.1 request's headers are read by
:class:`Headers` (the limits of ``http.client``, without its e-mail parser, which cost a fifth of
a served request); any other request line is left to the standard library.
"""
from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

MAX_BODY_ENV = "AMLOCAL_SERVICE_MAX_BODY"
READ_TIMEOUT_ENV = "AMLOCAL_SERVICE_READ_TIMEOUT"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 30.0
MAX_JSON_DEPTH = 64
_LINGER_SECONDS = 0.5          # how long a rejected connection's unread input is drained ...
_LINGER_BYTES = 1 << 20        # ... and at most how much of it
_DIGITS = re.compile(r"[0-9]+")


class HttpError(Exception):
    """An answer other than 200: ``status``, ``code`` and the message for the client."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Limits:
    """What a front accepts: the largest body in bytes and the seconds to send a request."""

    max_body: int = DEFAULT_MAX_BODY
    read_timeout: float = DEFAULT_READ_TIMEOUT

    @classmethod
    def from_env(cls, environ=None) -> Limits:
        """The limits set by ``AMLOCAL_SERVICE_MAX_BODY`` / ``AMLOCAL_SERVICE_READ_TIMEOUT``;
        ValueError naming the variable for a value that is not a positive number."""
        environ = os.environ if environ is None else environ
        body = environ.get(MAX_BODY_ENV, "").strip()
        timeout = environ.get(READ_TIMEOUT_ENV, "").strip()
        if body and not (_DIGITS.fullmatch(body) and int(body) > 0):
            raise ValueError(f"{MAX_BODY_ENV}={body!r} must be a positive number of bytes "
                             f"(e.g. {DEFAULT_MAX_BODY})")
        try:
            seconds = float(timeout) if timeout else DEFAULT_READ_TIMEOUT
        except ValueError:
            seconds = -1.0
        if not (0 < seconds < float("inf")):
            raise ValueError(f"{READ_TIMEOUT_ENV}={timeout!r} must be a positive number of seconds "
                             f"(e.g. {DEFAULT_READ_TIMEOUT:g})")
        return cls(int(body) if body else DEFAULT_MAX_BODY, seconds)

    def to_env(self) -> dict:
        return {MAX_BODY_ENV: str(self.max_body), READ_TIMEOUT_ENV: repr(self.read_timeout)}


class Deadlines:
    """Shuts the reading side of connections that take longer than ``seconds`` to send their
    request (a blocked read then sees the end of input); one daemon thread per server."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._lock = threading.Lock()
        self._reading: dict[socket.socket, float] = {}
        self._started = False

    def begin(self, sock: socket.socket) -> float:
        deadline = time.monotonic() + self.seconds
        with self._lock:
            self._reading[sock] = deadline
            if not self._started:
                self._started = True
                threading.Thread(target=self._watch, name="amlocal-read-deadlines",
                                 daemon=True).start()
        return deadline

    def end(self, sock: socket.socket) -> None:
        with self._lock:
            self._reading.pop(sock, None)

    def _watch(self) -> None:
        step = min(1.0, self.seconds / 4)
        while True:
            time.sleep(step)
            now = time.monotonic()
            with self._lock:
                late = [s for s, d in self._reading.items() if d <= now]
                for s in late:
                    del self._reading[s]
            for s in late:
                try:
                    s.shutdown(socket.SHUT_RD)
                except OSError:
                    pass


class Headers:
    """A request's headers as the handlers read them (``get``, ``get_all``, ``[name]``, ``in``,
    names case-insensitive, every value of a repeated header kept), read without the e-mail
    parser: the same limits as ``http.client`` (lines of at most 65,536 bytes, at most 100
    headers: 431 otherwise); a line that is not ``Name: value`` answers 400; a folded line
    (starting with a space or tab) continues the previous value."""

    MAX_LINE = 65536
    MAX_HEADERS = 100

    def __init__(self, pairs: list[tuple[str, str]]):
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for name, value in pairs:
            self._first.setdefault(name.lower(), value)

    @classmethod
    def read(cls, rfile) -> Headers:
        pairs: list[list[str]] = []
        while True:
            line = rfile.readline(cls.MAX_LINE + 1)
            if len(line) > cls.MAX_LINE:
                raise HttpError(431, "HeaderTooLarge", "Line too long")
            if line in (b"\r\n", b"\n", b""):
                break
            if len(pairs) >= cls.MAX_HEADERS:
                raise HttpError(431, "HeaderTooLarge", "Too many headers")
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and pairs:
                pairs[-1][1] += " " + text.strip()
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                raise HttpError(400, "BadRequest", f"Bad header line {text[:80]!r}")
            pairs.append([name, value.strip()])
        return cls([(n, v) for n, v in pairs])

    def get(self, name: str, default=None):
        return self._first.get(name.lower(), default)

    def get_all(self, name: str, default=None):
        found = [v for n, v in self._pairs if n.lower() == name.lower()]
        return found or default

    def __getitem__(self, name: str):
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._first

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def keys(self) -> list[str]:
        return [n for n, _ in self._pairs]


class GuardedHandler(BaseHTTPRequestHandler):
    """A request handler that applies :class:`Limits`; subclasses set ``limits`` and
    ``deadlines`` (see :func:`guarded`) and read a POST body with :meth:`read_body`."""

    protocol_version = "HTTP/1.1"
    limits: Limits = Limits()
    deadlines: Deadlines = Deadlines(DEFAULT_READ_TIMEOUT)
    _deadline = 0.0
    _continue = False

    def setup(self):
        self.timeout = self.limits.read_timeout    # each read of the socket, idle keep-alive too
        super().setup()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def handle_one_request(self):
        self._continue = False
        self._deadline = self.deadlines.begin(self.connection)
        try:
            super().handle_one_request()
        finally:
            self.deadlines.end(self.connection)

    def handle_expect_100(self):
        self._continue = True        # "100 Continue" only once the request is accepted
        return True

    def parse_request(self):
        """The standard library's ``parse_request`` for a well-formed HTTP/1.0 or 1.1 request
        line, with the headers read into :class:`Headers` rather than by the e-mail parser
        (a tenth of the time per request); any other request line goes to the standard one."""
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            return super().parse_request()
        self.requestline = line
        self.command, self.path, self.request_version = words
        self.close_connection = words[2] == "HTTP/1.0"
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")     # as the standard library (gh-87389)
        try:
            self.headers = Headers.read(self.rfile)
        except HttpError as exc:
            self.send_error(exc.status, str(exc))
            return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        if (self.headers.get("Expect", "").lower() == "100-continue"
                and self.request_version == "HTTP/1.1"):
            return self.handle_expect_100()
        return True

    def body_length(self) -> int:
        """The request's ``Content-Length``; HttpError 411/400/413."""
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "LengthRequired", "Transfer-Encoding is not supported: send the "
                            "body with a Content-Length header")
        values = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not values:
            raise HttpError(411, "LengthRequired", "a POST needs a Content-Length header")
        if len(values) > 1:
            raise HttpError(400, "BadRequest", "the request has conflicting Content-Length headers")
        text = values.pop()
        if not _DIGITS.fullmatch(text):
            raise HttpError(400, "BadRequest", f"Content-Length must be a non-negative integer, "
                            f"got {text[:40]!r}")
        if len(text) > 18 or int(text) > self.limits.max_body:
            raise HttpError(413, "PayloadTooLarge", f"the body is {text[:40]} bytes; this service "
                            f"takes at most {self.limits.max_body} ({MAX_BODY_ENV} at deploy)")
        return int(text)

    def read_body(self) -> bytes:
        """The whole body of the request, checked by :meth:`body_length`; HttpError 408 when
        it does not arrive before the request's deadline, 400 when the client stops early."""
        length = self.body_length()
        if self._continue:
            self.send_response_only(100)
            self.end_headers()
            self.wfile.flush()
        parts, left = [], length
        try:
            while left:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.connection.settimeout(remaining)
                chunk = self.rfile.read1(min(left, 1 << 16))
                if not chunk:
                    if time.monotonic() >= self._deadline - 0.05:
                        raise TimeoutError
                    raise HttpError(400, "BadRequest", f"the body ended after {length - left} of "
                                    f"the {length} bytes its Content-Length announced")
                parts.append(chunk)
                left -= len(chunk)
        except (TimeoutError, socket.timeout):
            raise HttpError(408, "RequestTimeout", f"the body did not arrive within "
                            f"{self.limits.read_timeout:g} s ({READ_TIMEOUT_ENV})") from None
        finally:
            self.deadlines.end(self.connection)
            try:
                self.connection.settimeout(self.timeout)
            except OSError:
                pass
        return b"".join(parts)

    def send_json(self, status: int, payload, *, close: bool = False) -> None:
        self.send_body(status, json.dumps(payload).encode("utf-8"), close=close)

    def send_body(self, status: int, body: bytes, content_type: str = "application/json", *,
                  close: bool = False) -> None:
        """Answer ``status`` with ``body``; with ``close`` (the body of the request was not
        read) the connection is closed after it."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        if close:
            self._linger()

    def _linger(self) -> None:
        """Send what is written, then drain a little of the unread input before closing, so
        that the client reads the answer rather than a connection reset."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_SECONDS)
            end, drained = time.monotonic() + _LINGER_SECONDS, 0
            while drained < _LINGER_BYTES and time.monotonic() < end:
                chunk = self.connection.recv(1 << 16)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass


def guarded(handler: type, limits: Limits) -> type:
    """``handler`` (a GuardedHandler subclass) bound to ``limits`` and one Deadlines watcher."""
    return type(handler.__name__, (handler,), {"limits": limits,
                                               "deadlines": Deadlines(limits.read_timeout)})


def _reject_constant(name: str):
    raise HttpError(400, "BadArgument", f"the body holds {name}, which is not a JSON number; send "
                    "null for a missing value")


def parse_json(raw: bytes, *, allow_constants: bool = False, max_depth: int = MAX_JSON_DEPTH):
    """The JSON value of ``raw``; HttpError 400 naming the problem for bytes that are not
    UTF-8, not JSON, nested deeper than ``max_depth``, an integer of more than 4300 digits, or
    (unless ``allow_constants``) ``NaN``/``Infinity``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, "BadArgument", f"the body is not UTF-8 text (byte {exc.start})") from None
    options = {} if allow_constants else {"parse_constant": _reject_constant}
    try:
        value = json.loads(text, **options)
    except RecursionError:
        value = None
        depth = max_depth + 1
    except ValueError as exc:
        if "digits" in str(exc):
            raise HttpError(400, "BadArgument", "the body holds an integer of more than 4300 "
                            "digits") from None
        raise HttpError(400, "BadArgument", f"the body is not JSON ({exc})") from None
    else:
        depth = json_depth(value, max_depth)
    if depth > max_depth:
        raise HttpError(400, "BadArgument", f"the body's JSON is nested more than {max_depth} "
                        "levels deep")
    return value


def json_depth(value, stop: int) -> int:
    """The nesting depth of a JSON value (a scalar is 0, ``[]`` is 1), counted up to ``stop + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            depth += 1
            if depth > stop:
                return depth
            deepest = max(deepest, depth)
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item))
    return deepest
