"""The client's transport pieces: HTTP connections over a Unix socket, TCP or TLS over TCP, and
request bodies streamed from a file or a tar of a folder. Standard library only: this runs inside
step images."""
from __future__ import annotations

import http.client
import os
import socket
import ssl
import tarfile
import threading
from pathlib import Path

from ..errors import StoreError

BLOCK = 1 << 20


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over an AF_UNIX stream socket."""

    def __init__(self, path: str, timeout: float, connect_timeout: float):
        super().__init__("localhost", timeout=timeout, blocksize=BLOCK)
        self._path = path
        self._connect_timeout = connect_timeout

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self._connect_timeout)
            sock.connect(self._path)
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _TcpConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: float, connect_timeout: float):
        super().__init__(host, port, timeout=timeout, blocksize=BLOCK)
        self._connect_timeout = connect_timeout

    def connect(self):
        self.sock = socket.create_connection((self.host, self.port), self._connect_timeout)
        self.sock.settimeout(self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TlsConnection(_TcpConnection):
    """HTTPS: TCP, then a TLS handshake verifying the service with ``context`` (its CA) and
    its certificate's names against ``host``."""

    def __init__(self, host: str, port: int, timeout: float, connect_timeout: float,
                 context: ssl.SSLContext):
        super().__init__(host, port, timeout, connect_timeout)
        self._context = context

    def connect(self):
        super().connect()
        try:
            self.sock.settimeout(self._connect_timeout)
            self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)
            self.sock.settimeout(self.timeout)
        except BaseException:
            self.sock.close()
            raise


def tls_context(ca: str, where: str) -> ssl.SSLContext:
    """A client context trusting only the CA certificate ``ca``: PEM text, or the path of a PEM
    file. ``where`` names its source in errors. Raises StoreError."""
    text = ca.strip()
    try:
        if text.startswith("-----BEGIN"):
            context = ssl.create_default_context(cadata=text)
        else:
            context = ssl.create_default_context(cafile=os.path.expanduser(text))
    except (OSError, ValueError) as exc:   # ssl.SSLError is an OSError
        raise StoreError(f"{where} must hold the run service's CA certificate (PEM text, or the "
                         f"path of a PEM file), which it does not: {exc}. The runner sets it for "
                         "steps on cluster nodes; by hand, use the tls/ca.pem of the home of the "
                         "machine serving the run") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # strict X.509 checks on every Python (3.13 makes them the default): the same verdict in
    # every step image
    context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    return context


def _file_chunks(path: Path, size: int):
    """The file's bytes; refuses a file that changed size meanwhile."""
    sent = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK)
            if not block:
                break
            sent += len(block)
            if sent > size:
                break
            yield block
    if sent != size:
        raise StoreError(f"{path} changed size while it was being sent ({size} -> {sent} bytes); "
                         "upload it again once it is written")


class _BodyFailed(Exception):
    """Carries an error raised while producing a request body out of http.client."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def _guarded(meta: bytes, chunks):
    yield meta
    try:
        yield from chunks
    except GeneratorExit:
        raise
    except BaseException as exc:
        raise _BodyFailed(exc) from exc


class _TarProducer:
    """A tar stream of a file or folder, written by a thread into a pipe and read as chunks."""

    def __init__(self, source: Path):
        self.source = source
        self.error: BaseException | None = None
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "rb")
        self._thread = threading.Thread(target=self._write, args=(write_fd,), daemon=True,
                                        name="amlocal-tar")
        self._thread.start()

    def _write(self, write_fd: int) -> None:
        try:
            with os.fdopen(write_fd, "wb") as pipe:
                with tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT,
                                  bufsize=BLOCK, dereference=True) as tar:
                    tar.add(str(self.source), arcname=self.source.name, recursive=True)
        except BrokenPipeError:
            pass  # the request was abandoned; the reader reports why
        except BaseException as exc:  # reported by chunks() once the pipe closes
            self.error = exc

    def chunks(self):
        try:
            while True:
                block = self._reader.read(BLOCK)
                if not block:
                    break
                yield block
            self._thread.join()
            if self.error is not None:
                raise self.error
        finally:
            self._reader.close()

    def close(self) -> None:
        self._reader.close()
        self._thread.join(timeout=5)
