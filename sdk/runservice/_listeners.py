"""The run service's listeners: threading HTTP servers on a Unix socket, on TCP, and on TCP with
TLS (which answers a plain-HTTP client with HTTP 400 saying to use https). Standard library only."""
from __future__ import annotations

import json
import logging
import socket
import socketserver
import ssl

log = logging.getLogger("amlocal.runservice")


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


class _TcpHTTPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    # not http.server.HTTPServer: its server_bind does a reverse DNS lookup we do not need
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _TlsHTTPServer(_TcpHTTPServer):
    """HTTPS: each accepted connection does its TLS handshake on its own thread (a slow client
    never holds up the others). A connection that does not start with a TLS handshake (a
    plain-HTTP client) is answered HTTP 400 in clear text, saying to use https."""

    ssl_context: ssl.SSLContext   # set on the per-listener subclass

    def finish_request(self, request, client_address):
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            first = request.recv(1, socket.MSG_PEEK)
            if not first:
                return          # connected and closed (e.g. _wake)
            if first != b"\x16":  # a TLS record starts with a handshake: this is not one
                _refuse_plain(request, client_address)
                return
            secure = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as exc:   # ssl.SSLError is an OSError
            log.debug("run service: no TLS connection from %s: %s", client_address, exc)
            return
        try:
            secure.settimeout(None)
            self.RequestHandlerClass(secure, client_address, self)
        finally:
            self.shutdown_request(secure)


HANDSHAKE_TIMEOUT = 30.0
PLAIN_HTTP_REFUSED = ("this run service speaks HTTPS only: reach it at https://HOST:PORT, "
                      "verifying it with the CA certificate in AMLOCAL_RUN_SERVICE_CA (the runner "
                      "hands both to the step)")


def _refuse_plain(sock: socket.socket, client_address) -> None:
    """Answer a plain-HTTP request on a TLS listener with HTTP 400 (JSON, as every error)."""
    log.debug("run service: a plain-HTTP client at %s reached the TLS listener", client_address)
    body = json.dumps({"error": {"type": "StoreError", "message": PLAIN_HTTP_REFUSED}}).encode()
    try:
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2.0)
        left = 1 << 20   # read what the client sends meanwhile, so it can read the answer
        while left > 0:
            data = sock.recv(65536)
            if not data:
                break
            left -= len(data)
    except OSError:
        pass


def _wake(server) -> None:
    """Connect to ``server`` once (and close): its serve loop wakes from its wait at once."""
    try:
        family = socket.AF_UNIX if isinstance(server.server_address, str) else socket.AF_INET6 \
            if ":" in str(server.server_address[0]) else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as poke:
            poke.settimeout(0.5)
            poke.connect(server.server_address)
    except OSError:
        pass   # it wakes at its poll interval instead
