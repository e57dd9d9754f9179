"""Building an image with the engine's BuildKit through the plain ``/build`` API (``version=2``).

Docker's own CLI talks to BuildKit through a gRPC session; the engine also accepts the build
context as the request body (a tar stream) and answers with JSON lines whose
``moby.buildkit.trace`` entries carry BuildKit's ``StatusResponse`` protobuf (base64). docker-py
has no BuildKit support, so this module sends the request through docker-py's low-level client
and decodes the few protobuf fields a build log needs (vertex names, start/end times, errors and
the RUN output), with a small wire-format reader instead of a protobuf dependency.

What BuildKit gives an environment build over the legacy builder: ``RUN --mount=type=cache``
(uv's download cache shared by every build on the engine, never part of an image) and an image
export that does not copy the installed tree once more as the legacy commit does.
"""
from __future__ import annotations

import base64
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

TRACE_ID = "moby.buildkit.trace"
MIN_API = (1, 39)                 # the engine API version that accepts version=2 builds


class BuildKitUnavailable(Exception):
    """The engine refused a BuildKit build before starting it (no BuildKit there)."""


@dataclass
class Vertex:
    """One step of the build graph as BuildKit reports it (times in seconds since the epoch)."""

    digest: str
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.completed is None:
            return None
        return max(0.0, self.completed - self.started)


@dataclass
class Progress:
    """What a BuildKit build reported: its vertices in order of first sight, the image id."""

    vertices: dict = field(default_factory=dict)     # digest -> Vertex
    statuses: dict = field(default_factory=dict)     # (vertex digest, name) -> Vertex
    partial: dict = field(default_factory=dict)      # vertex digest -> unfinished log line
    image_id: str = ""
    error: str = ""

    def steps(self) -> list[Vertex]:
        return list(self.vertices.values())

    def report(self) -> tuple:
        """``BuildStep``s: every vertex, then the sub-steps of the export ("exporting layers",
        "writing image", "naming to ...") named ``vertex name: status name``."""
        out = [BuildStep(v.name, v.seconds, v.cached) for v in self.steps()]
        for (digest, name), status in self.statuses.items():
            parent = self.vertices.get(digest)
            out.append(BuildStep(f"{parent.name if parent else digest}: {name}",
                                 status.seconds, False))
        return tuple(out)


@dataclass(frozen=True)
class BuildStep:
    """One step of an image build and its wall time (None when the builder did not say)."""

    name: str
    seconds: float | None
    cached: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "seconds": self.seconds, "cached": self.cached}


@dataclass(frozen=True)
class BuildReport:
    """How an environment image was built: ``builder`` is ``buildkit`` or ``legacy``,
    ``seconds`` the whole build (context written to image tagged), ``steps`` what the builder
    reported (BuildKit only; the legacy builder reports no step times)."""

    image: str
    digest: str
    builder: str
    seconds: float
    steps: tuple = ()

    def to_dict(self) -> dict:
        return {"image": self.image, "digest": self.digest, "builder": self.builder,
                "seconds": self.seconds, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: dict) -> "BuildReport":
        return cls(image=data["image"], digest=data["digest"], builder=data["builder"],
                   seconds=data["seconds"],
                   steps=tuple(BuildStep(**s) for s in data.get("steps") or ()))


# -- protobuf wire format (only what StatusResponse needs) ------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, object]]:
    """``(field number, wire type, value)`` of a protobuf message; a length-delimited value is
    bytes, a varint an int; fixed-width values are skipped as bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _timestamp(data: bytes) -> float:
    seconds = nanos = 0
    for number, _, value in fields(data):
        if number == 1:
            seconds = value
        elif number == 2:
            nanos = value
    return seconds + nanos / 1e9


def decode_status(raw: bytes) -> tuple[list[dict], list[dict], list[tuple[str, bytes]]]:
    """BuildKit's ``StatusResponse``: (vertices as dicts with digest/name/cached/started/
    completed/error, statuses as dicts with vertex/name/started/completed, logs as
    (vertex digest, bytes))."""
    vertices, statuses, logs = [], [], []
    for number, _, value in fields(raw):
        if number == 1:                                  # Vertex
            vertex: dict = {}
            for n, _, v in fields(value):
                if n == 1:
                    vertex["digest"] = v.decode()
                elif n == 3:
                    vertex["name"] = v.decode(errors="replace")
                elif n == 4:
                    vertex["cached"] = bool(v)
                elif n == 5:
                    vertex["started"] = _timestamp(v)
                elif n == 6:
                    vertex["completed"] = _timestamp(v)
                elif n == 7:
                    vertex["error"] = v.decode(errors="replace")
            vertices.append(vertex)
        elif number == 2:                                # VertexStatus
            status: dict = {}
            for n, _, v in fields(value):
                if n == 1:
                    status["name"] = v.decode(errors="replace")
                elif n == 2:
                    status["vertex"] = v.decode()
                elif n == 7:
                    status["started"] = _timestamp(v)
                elif n == 8:
                    status["completed"] = _timestamp(v)
            statuses.append(status)
        elif number == 3:                                # VertexLog
            digest, msg = "", b""
            for n, _, v in fields(value):
                if n == 1:
                    digest = v.decode()
                elif n == 4:
                    msg = v
            logs.append((digest, msg))
    return vertices, statuses, logs


# -- the request ------------------------------------------------------------------------------

def supported(client) -> bool:
    """True when the engine is a Linux engine whose API accepts BuildKit builds."""
    try:
        version = client.version()
    except Exception:  # noqa: BLE001 - the caller's own calls will report an unreachable engine
        return False
    if str(version.get("Os", "linux")).lower() != "linux":
        return False
    try:
        api = tuple(int(x) for x in str(version.get("ApiVersion", "0.0")).split(".")[:2])
    except ValueError:
        return False
    return api >= MIN_API


def context_tar(folder) -> bytes:
    """The build context folder as an uncompressed tar (owner root, sorted names)."""
    buf = io.BytesIO()
    # ustar headers only: BuildKit sniffs the body, and a leading PAX header is taken for a
    # Dockerfile
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(Path(folder).iterdir()):
            info = tar.gettarinfo(str(path), arcname=path.name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = int(info.mtime)
            with open(path, "rb") as f:
                tar.addfile(info, f)
    return buf.getvalue()


def build(client, folder, *, tag: str, labels: dict, write: Callable[[str], None]) -> Progress:
    """Build the context ``folder`` with BuildKit, tag it ``tag``; every log line goes to
    ``write`` (step headers ``#N name``, RUN output, errors). Returns the :class:`Progress`
    (its ``error`` set when the build failed). Raises BuildKitUnavailable when the engine
    refuses a BuildKit build, and whatever docker-py raises when the engine goes away."""
    import docker
    api = client.api
    params = {"t": tag, "version": "2", "rm": "1", "forcerm": "1", "pull": "",
              "labels": json.dumps(labels)}
    response = api._post(api._url("/build"), params=params, data=context_tar(folder),
                         headers={"Content-Type": "application/x-tar"}, stream=True,
                         timeout=None)
    try:
        api._raise_for_status(response)
    except docker.errors.APIError as exc:
        response.close()
        refused = exc.status_code is not None and 400 <= exc.status_code < 500
        if refused or "buildkit" in str(exc).lower():
            raise BuildKitUnavailable(str(exc)) from None
        raise
    progress = Progress()
    numbers: dict[str, int] = {}
    try:
        for chunk in api._stream_helper(response, decode=True):
            if chunk.get("id") == TRACE_ID and chunk.get("aux"):
                _trace(progress, numbers, base64.b64decode(chunk["aux"]), write)
            elif chunk.get("id") == "moby.image.id":
                progress.image_id = (chunk.get("aux") or {}).get("ID", "")
            elif "error" in chunk or "errorDetail" in chunk:
                progress.error = (chunk.get("error") or (chunk.get("errorDetail") or {}).get(
                    "message") or "build failed")
                write(f"ERROR: {progress.error}\n")
            elif chunk.get("stream"):
                write(chunk["stream"])
    finally:
        response.close()          # the client's connection pool may be shared (never leak it)
    return progress


def _trace(progress: Progress, numbers: dict, raw: bytes, write) -> None:
    vertices, statuses, logs = decode_status(raw)
    for data in statuses:
        key = (data.get("vertex", ""), data.get("name", ""))
        status = progress.statuses.setdefault(key, Vertex(key[0], key[1]))
        for name in ("started", "completed"):
            if data.get(name):
                setattr(status, name, data[name])
    for data in vertices:
        digest = data.get("digest", "")
        vertex = progress.vertices.get(digest)
        if vertex is None:
            vertex = progress.vertices[digest] = Vertex(digest)
            numbers[digest] = len(numbers) + 1
        was_done = vertex.completed is not None
        for key in ("name", "cached", "started", "completed", "error"):
            if key in data and data[key] not in ("", None):
                setattr(vertex, key, data[key])
        if vertex.completed is not None and not was_done:
            rest = progress.partial.pop(digest, "")
            if rest.strip():
                write(f"#{numbers[digest]} {rest}\n")
            state = ("CACHED" if vertex.cached else f"ERROR {vertex.error}" if vertex.error
                     else f"DONE {vertex.seconds or 0:.1f}s")
            write(f"#{numbers[digest]} {vertex.name} {state}\n")
    for digest, msg in logs:       # output arrives in arbitrary pieces: whole lines only
        text = progress.partial.pop(digest, "") + msg.decode("utf-8", errors="replace")
        *complete, rest = text.replace("\r", "\n").split("\n")
        if rest:
            progress.partial[digest] = rest
        number = numbers.get(digest, 0)
        write("".join(f"#{number} {line}\n" for line in complete if line.strip()))
