"""RemoteStore: the :class:`~amlocal.store.base.Store` interface over the run service.

A step's process (in a Docker container, a sandbox without network, or another machine) reaches
the workspace's store only through the run service hosted by its pipeline runner: over the Unix
socket mounted at ``/amlocal/service/run.sock`` (``unix:///amlocal/service/run.sock``), over TCP
with TLS (``https://host:port``: a step on a Ray cluster node) or over plain TCP
(``http://host:port``: a trusted network only). The runner hands the address and a per-run token
to the step in ``AMLOCAL_RUN_SERVICE`` and ``AZUREML_RUN_TOKEN``;
:func:`amlocal._context.current_store` builds this class from them. For ``https://`` it also hands
the CA certificate the service's certificate must verify against, in ``AMLOCAL_RUN_SERVICE_CA``
(the PEM text itself; the path of a PEM file works too): the step trusts that CA only, and the
certificate must name the address it connects to. A certificate that does not verify, or a
service that does not speak TLS, is refused with StoreError saying which.

This module runs inside arbitrary user images, so it needs only the standard library
(``http.client`` over AF_UNIX, TCP or ``ssl``, ``json``, ``tarfile``).

Wire format (one HTTP/1.1 request per connection, ``POST /v1/<method>``,
``Authorization: Bearer <token>``): the request body starts with ``X-Amlocal-Meta-Length`` bytes
of JSON, the call's keyword arguments encoded with :func:`amlocal.store.entities.to_wire`. File
payloads follow the JSON in the same body: the raw bytes of an artifact (``Content-Length``), or a
tar stream of a model file or folder (chunked). A JSON answer is ``{"result": ...}``; a file
answer is the raw bytes (``fetch_artifact``) or a chunked tar stream (``fetch_model``). A failure
is ``{"error": {"type": <class name>, "message": ...}}`` and is raised here as the same
:mod:`amlocal.errors` class with the same message.
"""
from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import socket
import ssl
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from .. import errors
from ..errors import StoreError, UserErrorException
from ..store.base import Store
from ..store.entities import from_wire, to_wire
from ._metric_wire import columns_from_wire, metric_columns, records_from_columns
from ._transport import (BLOCK, _BodyFailed, _file_chunks, _guarded, _TarProducer, _TcpConnection,
                         _TlsConnection, _UnixConnection, tls_context)

API_PREFIX = "/v1/"
META_LENGTH_HEADER = "X-Amlocal-Meta-Length"
ENTRY_HEADER = "X-Amlocal-Entry"
BOUND_HEADER = "X-Amlocal-Bound"   # fetch_dataset: the bound sources, URL-quoted JSON
CA_VAR = "AMLOCAL_RUN_SERVICE_CA"  # the CA certificate an https:// run service verifies against

# Builtin exceptions that cross the service as themselves (everything else from outside
# amlocal.errors arrives as StoreError).
_BUILTIN_ERRORS = {cls.__name__: cls for cls in (
    ValueError, TypeError, KeyError, LookupError, FileNotFoundError, FileExistsError,
    IsADirectoryError, NotADirectoryError)}
_RETRY_CONNECT = (errno.ECONNREFUSED, errno.EAGAIN, errno.ENOENT)


def error_from_wire(type_name: str, message: str) -> Exception:
    """The exception a store raised on the host, rebuilt from its class name and message."""
    cls = getattr(errors, str(type_name), None)
    if isinstance(cls, type) and issubclass(cls, errors.AmlocalError):
        # Built without calling the subclass __init__ (ValidationError and StepFailed take other
        # arguments): the message is exactly the host's.
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)
        return exc
    if type_name in _BUILTIN_ERRORS:
        return _BUILTIN_ERRORS[type_name](message)
    return StoreError(f"the run service failed: {type_name}: {message}")


def safe_extract(tar: tarfile.TarFile, target_dir: Path) -> list[str]:
    """Extract a (streamed) tar into ``target_dir`` and return its top-level names, in order.

    Only regular files and folders are accepted. A member with an absolute name, a ``..``
    part, or a link or device type raises StoreError before anything is written for it, so an
    archive can never write outside ``target_dir``.
    """
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(target_dir)
    tops: list[str] = []
    for member in tar:
        parts = PurePosixPath(member.name.replace("\\", "/")).parts
        if not parts or member.name.startswith(("/", "\\")) or ".." in parts:
            raise StoreError(f"refusing archive member {member.name!r}: it would be written "
                             f"outside {target_dir}")
        if not (member.isfile() or member.isdir()):
            raise StoreError(f"refusing archive member {member.name!r}: only files and folders "
                             "are accepted (links and devices are not)")
        destination = os.path.join(root, *parts)
        parent = os.path.realpath(os.path.dirname(destination))
        if parent != root and not parent.startswith(root + os.sep):
            raise StoreError(f"refusing archive member {member.name!r}: its folder resolves "
                             f"outside {target_dir}")
        if parts[0] not in tops:
            tops.append(parts[0])
        if member.isdir():
            os.makedirs(destination, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        if os.path.islink(destination):
            os.unlink(destination)  # write a file here, never through a link to elsewhere
        source = tar.extractfile(member)
        with open(destination, "wb") as out:
            shutil.copyfileobj(source, out, BLOCK)
        os.chmod(destination, (member.mode & 0o777) | 0o600)
    return tops


def _json_default(value):
    # numpy scalars and arrays, without importing numpy
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"a {type(value).__name__} cannot be sent to the run service: use str, int, "
                    "float, bool, None, or lists and dicts of them")


def encode_meta(kwargs: dict) -> bytes:
    return json.dumps(to_wire(kwargs), default=_json_default).encode("utf-8")


class RemoteStore(Store):
    """Every :class:`Store` call, made over the run service at ``service_url`` with ``token``.

    ``service_url`` is ``unix:///path/to/run.sock``, ``https://host:port`` or
    ``http://host:port``. For ``https://``, ``ca`` is the CA certificate to verify the service
    with (PEM text or a PEM file's path; default ``$AMLOCAL_RUN_SERVICE_CA``). Each call opens its
    own connection (safe from any thread). Connecting is retried for about three seconds; then
    StoreError says the service does not answer. ``timeout`` bounds every wait for the service
    once connected.
    """

    def __init__(self, service_url: str, token: str, *, ca: str | None = None,
                 timeout: float = 300.0, connect_timeout: float = 10.0):
        self.service_url = service_url
        self._token = token
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._tls = None
        if service_url.startswith("unix://"):
            self._socket_path: str | None = service_url[len("unix://"):]
            self._base = ""
            if not self._socket_path:
                raise UserErrorException(f"run service address {service_url!r} names no socket: "
                                         "use unix:///path/to/run.sock")
        elif service_url.startswith(("http://", "https://")):
            parts = urlsplit(service_url)
            if not parts.hostname or not parts.port:
                raise UserErrorException(f"run service address {service_url!r} needs a host and a "
                                         f"port: use {parts.scheme}://host:port")
            if parts.scheme == "https":
                where = "the ca argument" if ca else CA_VAR
                ca = ca or os.environ.get(CA_VAR)
                if not ca:
                    raise UserErrorException(
                        f"run service address {service_url!r} is https but no CA certificate "
                        f"was given to verify it with: set {CA_VAR} to the CA's PEM text (or "
                        "the path of a PEM file; the runner sets it for steps on cluster nodes)")
                self._tls = tls_context(ca, where)
            self._socket_path = None
            self._host, self._port = parts.hostname, parts.port
            self._base = parts.path.rstrip("/")
        else:
            raise UserErrorException(
                f"run service address {service_url!r} is not valid: use unix:///path/to/run.sock "
                f"or http://host:port, or https://host:port with the CA in {CA_VAR} (the runner "
                "sets AMLOCAL_RUN_SERVICE)")

    def __repr__(self) -> str:
        return f"RemoteStore({self.service_url!r})"

    # -- plumbing ---------------------------------------------------------------------------
    def _untrusted(self, exc: ssl.SSLError) -> StoreError:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return StoreError(
                f"the run service at {self.service_url} is refused: its certificate does not "
                f"verify against the CA this step was given in {CA_VAR} "
                f"({exc.verify_message or exc}). Something other than the step's run service "
                "answers at that address, or the CA is another machine's: use the CA of the home "
                "whose runner serves the run")
        return StoreError(f"the run service at {self.service_url} did not complete a TLS "
                          f"handshake ({type(exc).__name__}: {exc}): is it an https:// service? "
                          "(a plain-HTTP service is reached at http://host:port)")

    def _unreachable(self, exc: BaseException) -> StoreError:
        return StoreError(f"the run service at {self.service_url} does not answer: is the step's "
                          f"runner still alive? ({type(exc).__name__}: {exc})")

    def _connect(self) -> http.client.HTTPConnection:
        delay = 0.1
        deadline = time.monotonic() + 3.0
        while True:
            if self._socket_path is not None:
                conn = _UnixConnection(self._socket_path, self.timeout, self.connect_timeout)
            elif self._tls is not None:
                conn = _TlsConnection(self._host, self._port, self.timeout, self.connect_timeout,
                                      self._tls)
            else:
                conn = _TcpConnection(self._host, self._port, self.timeout, self.connect_timeout)
            try:
                conn.connect()
                return conn
            except ssl.SSLError as exc:
                conn.close()
                raise self._untrusted(exc) from exc
            except OSError as exc:
                conn.close()
                if exc.errno not in _RETRY_CONNECT or time.monotonic() + delay > deadline:
                    raise self._unreachable(exc) from exc
                time.sleep(delay)
                delay *= 2

    def _request(self, method: str, kwargs: dict, payload=None, length: int | None = None,
                 meta: bytes | None = None):
        """Send one call and return (connection, response) for a 200 answer; raise otherwise.

        ``payload`` (an iterable of bytes) follows the meta JSON in the body, sent with
        ``Content-Length`` when its ``length`` is known, else chunked. If it fails, the request
        is abandoned before its end, so the service discards it, and its error is raised.
        ``meta``: the call's JSON already encoded (then ``kwargs`` is not used)."""
        meta = encode_meta(kwargs) if meta is None else meta
        headers = {"Authorization": f"Bearer {self._token}", META_LENGTH_HEADER: str(len(meta)),
                   "Content-Type": "application/json" if payload is None
                   else "application/octet-stream"}
        body = meta if payload is None else _guarded(meta, payload)
        if payload is None or length is not None:
            headers["Content-Length"] = str(len(meta) + (length or 0))
        conn = self._connect()
        try:
            try:
                conn.request("POST", f"{self._base}{API_PREFIX}{quote(method)}", body=body,
                             headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the service answered early (e.g. refused the call): read its answer
            response = conn.getresponse()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, _BodyFailed):
                raise exc.error from None
            if isinstance(exc, socket.timeout):
                raise StoreError(f"the run service at {self.service_url} did not answer "
                                 f"{method} within {self.timeout:g} s") from exc
            if isinstance(exc, (OSError, http.client.HTTPException)):
                raise self._unreachable(exc) from exc
            raise
        if response.status != 200:
            try:
                error = json.loads(response.read() or b"{}")["error"]
                exc = error_from_wire(error["type"], error["message"])
            except (ValueError, KeyError, TypeError, OSError, http.client.HTTPException):
                exc = StoreError(f"the run service at {self.service_url} answered {method} with "
                                 f"HTTP {response.status} {response.reason}")
            finally:
                conn.close()
            raise exc
        return conn, response

    def _call(self, method: str, _payload=None, _length: int | None = None,
              _meta: bytes | None = None, _decode=from_wire, **kwargs):
        """One call; its JSON result decoded into entities (by ``_decode``)."""
        conn, response = self._request(method, kwargs, _payload, _length, _meta)
        try:
            return _decode(json.loads(response.read())["result"])
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"the run service at {self.service_url} sent a broken answer to "
                             f"{method}: {exc}") from exc
        finally:
            conn.close()

    # -- workspaces -------------------------------------------------------------------------
    def create_workspace(self, info):
        return self._call("create_workspace", info=info)

    def find_workspaces(self, name=None, resource_group=None, subscription_id=None):
        return self._call("find_workspaces", name=name, resource_group=resource_group,
                          subscription_id=subscription_id)

    def delete_workspace(self, workspace_id):
        return self._call("delete_workspace", workspace_id=workspace_id)

    def set_default_datastore(self, workspace_id, name):
        return self._call("set_default_datastore", workspace_id=workspace_id, name=name)

    # -- datastores -------------------------------------------------------------------------
    def put_datastore(self, info, overwrite=False):
        return self._call("put_datastore", info=info, overwrite=overwrite)

    def get_datastore(self, workspace_id, name):
        return self._call("get_datastore", workspace_id=workspace_id, name=name)

    def list_datastores(self, workspace_id):
        return self._call("list_datastores", workspace_id=workspace_id)

    def delete_datastore(self, workspace_id, name):
        return self._call("delete_datastore", workspace_id=workspace_id, name=name)

    # -- experiments and runs ---------------------------------------------------------------
    def ensure_experiment(self, workspace_id, name):
        return self._call("ensure_experiment", workspace_id=workspace_id, name=name)

    def list_experiments(self, workspace_id):
        return self._call("list_experiments", workspace_id=workspace_id)

    def get_experiment(self, workspace_id, name):
        return self._call("get_experiment", workspace_id=workspace_id, name=name)

    def update_experiment(self, workspace_id, name, set_tags=None, remove_tags=None, archived=None):
        return self._call("update_experiment", workspace_id=workspace_id, name=name,
                          set_tags=set_tags, remove_tags=remove_tags, archived=archived)

    def delete_experiment(self, workspace_id, name):
        return self._call("delete_experiment", workspace_id=workspace_id, name=name)

    def create_run(self, info):
        return self._call("create_run", info=info)

    def get_run(self, run_id):
        return self._call("get_run", run_id=run_id)

    def update_run(self, run_id, **fields):
        return self._call("update_run", run_id=run_id, **fields)

    def list_runs(self, workspace_id=None, experiment=None, parent_id=None, kind=None, *,
                  statuses=None, **paging):
        """``paging``: the other keyword-only filters and paging of ``Store.list_runs``."""
        statuses = list(statuses) if isinstance(statuses, (set, frozenset)) else statuses
        return self._call("list_runs", workspace_id=workspace_id, experiment=experiment,
                          parent_id=parent_id, kind=kind, statuses=statuses, **paging)

    def find_reusable_run(self, workspace_id, reuse_key):
        return self._call("find_reusable_run", workspace_id=workspace_id, reuse_key=reuse_key)

    def set_tags(self, run_id, tags):
        return self._call("set_tags", run_id=run_id, tags=tags)

    def remove_tags(self, run_id, keys):
        return self._call("remove_tags", run_id=run_id, keys=list(keys))

    def add_properties(self, run_id, properties):
        return self._call("add_properties", run_id=run_id, properties=properties)

    def log_metrics(self, run_id, records):
        """The whole batch in one request, as columns (:mod:`._metric_wire`)."""
        if not records:
            return None
        meta = json.dumps({"run_id": run_id, "records": metric_columns(records)},
                          default=_json_default).encode("utf-8")
        return self._call("log_metrics", _meta=meta)

    def get_metric_records(self, run_id, name=None):
        """The records arrive as columns (:mod:`._metric_wire`)."""
        return self._call("get_metric_records", _decode=records_from_columns, run_id=run_id,
                          **({} if name is None else {"name": name}))

    def get_metric_columns(self, run_id, name=None):
        """The same answer as columns, without a record per value."""
        return self._call("get_metric_records", _decode=columns_from_wire, run_id=run_id,
                          **({} if name is None else {"name": name}))

    # -- artifacts --------------------------------------------------------------------------
    def put_artifact(self, run_id, name, source):
        """Stream the file as the request body (``Content-Length``, never base64 in JSON)."""
        source = Path(source)
        if not source.is_file():
            raise FileNotFoundError(f"cannot upload {source} as artifact {name!r}: no such file")
        size = source.stat().st_size
        self._call("put_artifact", _file_chunks(source, size), size, run_id=run_id, name=name)

    def list_artifacts(self, run_id):
        return self._call("list_artifacts", run_id=run_id)

    def fetch_artifact(self, run_id, name, destination):
        """Stream the artifact into ``destination`` (written under a temporary name, then
        renamed, so a broken transfer leaves nothing behind)."""
        destination = Path(destination)
        conn, response = self._request("fetch_artifact", {"run_id": run_id, "name": name})
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(response, out, BLOCK)
                os.replace(tmp, destination)
            except BaseException:
                os.unlink(tmp)
                raise
        except (http.client.HTTPException, ConnectionError, socket.timeout) as exc:
            raise StoreError(f"the transfer of artifact {name!r} of run {run_id} from the run "
                             f"service at {self.service_url} broke off: {exc}") from exc
        finally:
            conn.close()
        return destination

    def append_artifact(self, run_id, name, data):
        """Send ``data`` as the raw request body, after the meta JSON."""
        data = bytes(data)
        self._call("append_artifact", [data], len(data), run_id=run_id, name=name)

    def read_artifact(self, run_id, name, offset=0):
        """The artifact's bytes from ``offset`` on, as the raw answer body."""
        conn, response = self._request("read_artifact",
                                       {"run_id": run_id, "name": name, "offset": offset})
        try:
            return response.read()
        except (http.client.HTTPException, ConnectionError, socket.timeout) as exc:
            raise StoreError(f"reading artifact {name!r} of run {run_id} from the run service at "
                             f"{self.service_url} broke off: {exc}") from exc
        finally:
            conn.close()

    # -- models -----------------------------------------------------------------------------
    def register_model(self, info, source):
        """Send the file or folder as a streamed tar after the metadata JSON."""
        source = Path(source)
        if not source.exists():
            raise FileNotFoundError(f"cannot register model {info.name!r}: {source} does not exist")
        producer = _TarProducer(source)
        try:
            return self._call("register_model", producer.chunks(), info=info)
        finally:
            producer.close()

    def get_model(self, workspace_id, name, version=None):
        return self._call("get_model", workspace_id=workspace_id, name=name, version=version)

    def list_models(self, workspace_id, name=None):
        return self._call("list_models", workspace_id=workspace_id, name=name)

    def update_model(self, workspace_id, name, version, add_tags=None, remove_tags=None,
                     add_properties=None, description=None, add_datasets=None):
        return self._call("update_model", workspace_id=workspace_id, name=name, version=version,
                          add_tags=add_tags, remove_tags=remove_tags,
                          add_properties=add_properties, description=description,
                          add_datasets=add_datasets)

    def fetch_model(self, info, target_dir):
        """Download the files of model ``info.name`` version ``info.version`` of
        ``info.workspace_id`` (the host looks it up; nothing else of ``info`` is sent) as a tar
        and extract it into ``target_dir`` (members that would land outside it are refused);
        return the path of the model's entry."""
        target_dir = Path(target_dir)
        conn, response = self._request("fetch_model", {
            "workspace_id": info.workspace_id, "name": info.name, "version": info.version})
        try:
            with tarfile.open(fileobj=response, mode="r|", bufsize=BLOCK) as tar:
                tops = safe_extract(tar, target_dir)
        except (tarfile.TarError, http.client.HTTPException, ConnectionError, socket.timeout) as exc:
            raise StoreError(f"the download of model {info.name}:{info.version} from the run "
                             f"service at {self.service_url} broke off: {exc}") from exc
        finally:
            conn.close()
        if len(tops) != 1:
            raise StoreError(f"the run service at {self.service_url} sent model "
                             f"{info.name}:{info.version} as {tops}, not as one file or folder")
        return target_dir / tops[0]

    def fetch_dataset(self, workspace_id, definition, target_dir) -> dict:
        """Have the host copy the files of ``definition`` (datastore sources in this run's
        workspace) into ``target_dir``; return the definition's ``bound`` entry for that copy
        (see :mod:`amlocal.datastores.resolve`)."""
        target_dir = Path(target_dir)
        conn, response = self._request("fetch_dataset", {"workspace_id": workspace_id,
                                                         "definition": definition})
        try:
            sources = json.loads(unquote(response.getheader(BOUND_HEADER) or "null"))
            with tarfile.open(fileobj=response, mode="r|", bufsize=BLOCK) as tar:
                tops = safe_extract(tar, target_dir)
        except (tarfile.TarError, http.client.HTTPException, ConnectionError, socket.timeout,
                ValueError) as exc:
            raise StoreError(f"the download of a dataset's files from the run service at "
                             f"{self.service_url} broke off: {exc}") from exc
        finally:
            conn.close()
        if not isinstance(sources, list):
            raise StoreError(f"the run service at {self.service_url} sent no bound sources for "
                             "the dataset it copied")
        return {"root": str(target_dir / (tops[0] if tops else "dataset")), "sources": sources}

    # -- environments -----------------------------------------------------------------------
    def register_environment(self, workspace_id, name, definition):
        return self._call("register_environment", workspace_id=workspace_id, name=name,
                          definition=definition)

    def get_environment(self, workspace_id, name, version=None):
        return self._call("get_environment", workspace_id=workspace_id, name=name, version=version)

    def list_environments(self, workspace_id):
        return self._call("list_environments", workspace_id=workspace_id)

    # -- datasets ---------------------------------------------------------------------------
    def register_dataset(self, info, create_new_version=False):
        return self._call("register_dataset", info=info, create_new_version=create_new_version)

    def get_dataset(self, workspace_id, name, version=None):
        return self._call("get_dataset", workspace_id=workspace_id, name=name, version=version)

    def get_dataset_by_id(self, workspace_id, dataset_id):
        return self._call("get_dataset_by_id", workspace_id=workspace_id, dataset_id=dataset_id)

    def list_datasets(self, workspace_id):
        return self._call("list_datasets", workspace_id=workspace_id)

    def update_dataset(self, workspace_id, name, version, description, tags):
        return self._call("update_dataset", workspace_id=workspace_id, name=name, version=version,
                          description=description, tags=tags)

    def unregister_datasets(self, workspace_id, name):
        return self._call("unregister_datasets", workspace_id=workspace_id, name=name)

    # -- published pipelines ----------------------------------------------------------------
    def put_pipeline(self, info):
        return self._call("put_pipeline", info=info)

    def get_pipeline(self, pipeline_id):
        return self._call("get_pipeline", pipeline_id=pipeline_id)

    def list_pipelines(self, workspace_id):
        return self._call("list_pipelines", workspace_id=workspace_id)

    def set_pipeline_status(self, pipeline_id, status):
        return self._call("set_pipeline_status", pipeline_id=pipeline_id, status=status)

    # -- compute targets --------------------------------------------------------------------
    def put_compute_target(self, info):
        return self._call("put_compute_target", info=info)

    def get_compute_target(self, workspace_id, name):
        return self._call("get_compute_target", workspace_id=workspace_id, name=name)

    def list_compute_targets(self, workspace_id):
        return self._call("list_compute_targets", workspace_id=workspace_id)
