"""Azure Blob specifics of the shared files layer (``az://`` and ``abfs://`` through adlfs).

- :func:`probe`: one listing of the container, without retries, the first time a location is
  used, so that an unreachable endpoint, a missing container or refused credentials fail at
  once with an error naming ``AMLOCAL_ARTIFACTS_URL`` (the SDK's default retries would take
  more than a minute to give up).
- :func:`append`: a live log is an append blob; each chunk is one ``Append Block`` (atomic on the
  service, concurrent appenders never overwrite each other). The blob is created with an
  if-missing condition, so two first appends cannot truncate each other.

azure-storage-blob (brought by adlfs) is imported inside the functions, through adlfs's own
asynchronous client (``fs.service_client``) on fsspec's event loop.
"""
from __future__ import annotations

from .._settings import ARTIFACTS_OPTIONS, ARTIFACTS_URL
from ..errors import StoreError, UserErrorException

AZURE_PROTOCOLS = frozenset({"az", "abfs", "abfss"})
APPEND_BLOCK = 4 * 1024 * 1024   # the smallest Append Block limit among service versions
COMPACT_AT = 45_000              # blocks; the service refuses appends past 50,000


_ENV = {"connection_string": "AZURE_STORAGE_CONNECTION_STRING",
        "account_name": "AZURE_STORAGE_ACCOUNT_NAME", "account_key": "AZURE_STORAGE_ACCOUNT_KEY",
        "sas_token": "AZURE_STORAGE_SAS_TOKEN", "client_id": "AZURE_STORAGE_CLIENT_ID",
        "client_secret": "AZURE_STORAGE_CLIENT_SECRET", "tenant_id": "AZURE_STORAGE_TENANT_ID"}


def env_options() -> dict:
    """adlfs's storage options from the ``AZURE_STORAGE_*`` variables that are set."""
    import os
    return {key: os.environ[var] for key, var in _ENV.items() if os.environ.get(var)}


def split(root: str) -> tuple[str, str]:
    """``(container, blob prefix)`` of an adlfs path ``container/prefix``."""
    container, _, prefix = root.strip("/").partition("/")
    return container, prefix


def probe(fs, root: str, shown: str) -> None:
    """List one blob of the container; raise UserErrorException/StoreError naming the setting."""
    from fsspec.asyn import sync
    container, _ = split(root)

    async def first_page():
        client = fs.service_client.get_container_client(container)
        pages = client.list_blobs(results_per_page=1, retry_total=0,
                                  connection_timeout=10).by_page()
        async for page in pages:
            async for _blob in page:
                break
            break

    try:
        sync(fs.loop, first_page)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one message naming the setting
        raise explain(exc, container, shown) from None


def append(fs, path: str, data: bytes, compact_at: int = COMPACT_AT) -> bool:
    """Append ``data`` to the append blob ``path`` (created when missing). False when the blob
    exists but is not an append blob (a file uploaded whole): the caller rewrites it then.

    An append blob takes at most 50,000 blocks (one per append, a log line each); once it holds
    ``compact_at`` it is rewritten as a few 4 MiB blocks (a reader reading at that instant may
    see it shorter for a moment; the one writer of a log is not disturbed)."""
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from fsspec.asyn import sync
    container, blob = split(path)

    async def compact(client) -> None:
        whole = await (await client.download_blob()).readall()
        await client.create_append_blob()            # replaces it: empty, no blocks
        for start in range(0, len(whole), APPEND_BLOCK):
            await client.append_block(whole[start:start + APPEND_BLOCK])

    async def one(client, chunk: bytes) -> dict:
        try:
            return await client.append_block(chunk)
        except ResourceNotFoundError:
            try:
                await client.create_append_blob(match_condition=MatchConditions.IfMissing)
            except HttpResponseError as exc:
                if exc.status_code not in (409, 412):   # created meanwhile: fine
                    raise
        except HttpResponseError as exc:
            if code(exc) != "BlockCountExceedsLimit":
                raise
            await compact(client)
        return await client.append_block(chunk)

    async def run() -> bool:
        async with fs.service_client.get_blob_client(container, blob) as client:
            for start in range(0, len(data), APPEND_BLOCK):
                try:
                    done = await one(client, data[start:start + APPEND_BLOCK])
                except HttpResponseError as exc:
                    if code(exc) == "InvalidBlobType" and start == 0:
                        return False
                    raise
                if int(done.get("blob_committed_block_count") or 0) >= compact_at:
                    await compact(client)
        return True

    return sync(fs.loop, run)


def code(exc: BaseException) -> str:
    """The storage error code of an Azure exception (``"ContainerNotFound"``...), or ``""``."""
    raw = getattr(exc, "error_code", None)
    return str(getattr(raw, "value", raw) or "")


def explain(exc: BaseException, container: str, shown: str) -> Exception:
    """One error naming the setting and the fix for a failure of the blob service."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    reason = first_line(exc)
    where = f"{ARTIFACTS_URL}={shown}"
    if isinstance(exc, ServiceRequestError):
        return StoreError(
            f"cannot reach the blob service of {where} ({reason}). Check the endpoint "
            f"(AZURE_STORAGE_CONNECTION_STRING or {ARTIFACTS_OPTIONS}) and that the service "
            "answers from this machine")
    status = getattr(exc, "status_code", None)
    if status == 404 and "Container" in code(exc):
        return UserErrorException(
            f"container '{container}' of {where} does not exist: create it (e.g. `az storage "
            f"container create --name {container}`) or point {ARTIFACTS_URL} at another one")
    if isinstance(exc, ClientAuthenticationError) or status == 403 or "Auth" in code(exc):
        why = code(exc) or status or reason
        return UserErrorException(
            f"the storage account of {where} refused the credentials ({why}): "
            "check AZURE_STORAGE_ACCOUNT_KEY / AZURE_STORAGE_SAS_TOKEN / "
            f"AZURE_STORAGE_CONNECTION_STRING or {ARTIFACTS_OPTIONS} (a SAS token needs read, "
            "write, list, add, create and delete permissions)")
    return StoreError(f"the blob service of {where} failed: {type(exc).__name__}: {reason}")


def first_line(exc: BaseException) -> str:
    import re
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"(?i)(sig|AccountKey|SharedAccessSignature)=[^&;\s]*", r"\1=***", text)[:300]
