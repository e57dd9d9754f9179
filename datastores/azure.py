"""Azure Blob containers as datastores, on adlfs (``az://<container>``).

:func:`blob_datastore` turns the arguments of ``Datastore.register_azure_blob_container`` into a
datastore URL and adlfs storage options; :func:`check_container` creates and validates the
container with azure-storage-blob (installed with adlfs), naming what is wrong in plain words:
an unknown container, refused credentials, an endpoint that does not answer.

Storage options, as adlfs takes them:

- Azure's public cloud over https: ``{"account_name": A, "account_key": K}`` or
  ``{"account_name": A, "sas_token": S}`` (adlfs builds ``https://A.blob.core.windows.net``).
- any other endpoint (a sovereign cloud's suffix, ``protocol='http'``, or an endpoint URL such as
  Azurite's ``http://127.0.0.1:10000/devstoreaccount1``): ``{"account_name": A,
  "connection_string": "BlobEndpoint=...;AccountKey=...|SharedAccessSignature=..."}``.
- no credential: ``{"account_name": A, "anon": True}``, anonymous access to a public container.

Every credential sits under a key that ``redact_options`` hides (``*key*``, ``*token*``,
``*connection*``). azure-storage-blob is imported inside the functions that use it.
"""
from __future__ import annotations

import re

from amlocal.errors import UserErrorException

from .fs import parse_connection_string

AZURE_BLOB = "AzureBlob"
DEFAULT_SUFFIX = "core.windows.net"
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_SIG = re.compile(r"(?<!\w)(sig|se|sp|sv|st|spr|srt|ss|skoid|sktid|AccountKey|SharedAccessSignature)"
                  r"=[^&;\s]*", re.IGNORECASE)


def blob_datastore(container_name: str, account_name: str, sas_token: str | None = None,
                   account_key: str | None = None, protocol: str | None = None,
                   endpoint: str | None = None) -> tuple[str, dict]:
    """``(url, storage_options)`` of a blob container.

    ``endpoint`` is Azure's storage suffix (default ``core.windows.net``) or, an amlocal addition,
    the blob service's URL (``http://127.0.0.1:10000/devstoreaccount1``). With both an account key
    and a SAS token the account key is used, as in Azure.

    Raises UserErrorException for names Azure would refuse and a ``protocol`` other than http(s).
    """
    if not isinstance(container_name, str) or not _CONTAINER.match(container_name):
        raise UserErrorException(
            f"container name {container_name!r} is not valid: use 3-63 lowercase letters, digits "
            "and single hyphens, starting and ending with a letter or digit (e.g. 'training-data')")
    if not isinstance(account_name, str) or not _ACCOUNT.match(account_name):
        raise UserErrorException(
            f"storage account name {account_name!r} is not valid: use 3-24 lowercase letters and "
            "digits (Azurite's account is 'devstoreaccount1')")
    blob_url = blob_endpoint(account_name, protocol, endpoint)
    sas = (sas_token or "").lstrip("?") or None
    options: dict = {"account_name": account_name}
    if blob_url == f"https://{account_name}.blob.{DEFAULT_SUFFIX}":
        if account_key:
            options["account_key"] = account_key
        elif sas:
            options["sas_token"] = sas
        else:
            options["anon"] = True
    else:
        parts = [f"BlobEndpoint={blob_url}"]
        if account_key:
            parts = [f"DefaultEndpointsProtocol={blob_url.split('://', 1)[0]}",
                     f"AccountName={account_name}", f"AccountKey={account_key}", *parts]
        elif sas:
            parts.append(f"SharedAccessSignature={sas}")
        options["connection_string"] = ";".join(parts) + ";"
    return f"az://{container_name}", options


def blob_endpoint(account_name: str, protocol: str | None, endpoint: str | None) -> str:
    """The blob service URL of an account (no trailing ``/``). Raises UserErrorException."""
    if protocol is not None and protocol not in ("http", "https"):
        raise UserErrorException(f"protocol {protocol!r} is not valid: use 'https' (default) or 'http'")
    if endpoint and "://" in endpoint:
        scheme = endpoint.split("://", 1)[0].lower()
        if scheme not in ("http", "https") or (protocol and protocol != scheme):
            raise UserErrorException(
                f"endpoint {endpoint!r} must be an http(s) URL matching protocol {protocol!r}; give "
                "either a URL such as 'http://127.0.0.1:10000/devstoreaccount1' or a suffix such "
                "as 'core.windows.net' with protocol='http' or 'https'")
        return endpoint.rstrip("/")
    suffix = (endpoint or DEFAULT_SUFFIX).strip().strip(".")
    return f"{protocol or 'https'}://{account_name}.blob.{suffix}"


def describe(url: str, options: dict) -> dict:
    """Non-secret facts of a blob datastore: container_name, account_name, endpoint (the blob
    service URL), credential_type (``AccountKey``, ``Sas`` or ``None``, as Azure names them)."""
    container = url.split("://", 1)[-1].split("/", 1)[0].split("@", 1)[0]
    account = options.get("account_name")
    conn = parse_connection_string(options.get("connection_string") or "")
    endpoint = conn.get("blobendpoint") or (
        f"https://{account}.blob.{DEFAULT_SUFFIX}" if account else None)
    if options.get("account_key") or conn.get("accountkey"):
        credential = "AccountKey"
    elif options.get("sas_token") or conn.get("sharedaccesssignature"):
        credential = "Sas"
    else:
        credential = "None"
    return {"container_name": container, "account_name": account or conn.get("accountname"),
            "endpoint": endpoint, "credential_type": credential}


def check_container(url: str, options: dict, *, create: bool, validate: bool) -> None:
    """Create the container (``create``) and check that it answers with these credentials
    (``validate``). Raises UserErrorException naming the problem and the fix."""
    if not (create or validate):
        return
    info = describe(url, options)
    client = _container_client(options, info["container_name"])
    try:
        if create:
            from azure.core.exceptions import ResourceExistsError
            try:
                client.create_container()
            except ResourceExistsError:
                pass
        if validate:   # listing works with a container SAS too (it needs List permission)
            next(iter(client.list_blobs(results_per_page=1).by_page()), None)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one user-facing message
        raise _explain(exc, info, create) from None
    finally:
        client.close()


# -- internals --------------------------------------------------------------------------------
def _container_client(options: dict, container: str):
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError as exc:
        raise UserErrorException(
            "Azure Blob datastores need adlfs (which brings azure-storage-blob): pip install adlfs"
        ) from exc
    # One attempt, short timeouts: registration should say quickly what is wrong.
    settings = {"retry_total": 0, "connection_timeout": 10, "read_timeout": 30}
    try:
        if options.get("connection_string"):
            service = BlobServiceClient.from_connection_string(options["connection_string"],
                                                               **settings)
        else:
            account = options["account_name"]
            credential = ({"account_name": account, "account_key": options["account_key"]}
                          if options.get("account_key") else options.get("sas_token"))
            service = BlobServiceClient(f"https://{account}.blob.{DEFAULT_SUFFIX}",
                                        credential=credential, **settings)
    except ValueError as exc:
        raise UserErrorException(
            f"the blob datastore's settings are not usable: {_clean(exc)}. Check the endpoint and "
            "the credential") from None
    return service.get_container_client(container)


def _explain(exc: Exception, info: dict, create: bool) -> UserErrorException:
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                       ResourceNotFoundError, ServiceRequestError)
    container, account, endpoint = info["container_name"], info["account_name"], info["endpoint"]
    raw = getattr(exc, "error_code", None)    # a StorageErrorCode enum or a plain string
    code = str(getattr(raw, "value", raw) or "")
    if isinstance(exc, ServiceRequestError):
        return UserErrorException(
            f"cannot reach the blob service at {endpoint} ({_clean(exc)}). Check endpoint= and "
            "protocol= (for Azurite: start it with `bash scripts/azurite.sh` and pass "
            "endpoint='http://127.0.0.1:10000/devstoreaccount1'), or pass skip_validation=True "
            "to register without checking")
    if isinstance(exc, ResourceNotFoundError) and "Container" in code:
        return UserErrorException(
            f"container '{container}' does not exist in storage account '{account}'. Create it, "
            "or pass create_if_not_exists=True")
    status = getattr(exc, "status_code", None)
    if isinstance(exc, ClientAuthenticationError) or status == 403 or "Auth" in code:
        reason = code or status or _clean(exc)   # no code: the key could not even sign
        return UserErrorException(
            f"storage account '{account}' refused the credentials ({reason}): check "
            "account_key or sas_token (a SAS token needs at least Read and List permissions"
            + (", and Create to create the container" if create else "") + ")")
    if isinstance(exc, HttpResponseError):
        return UserErrorException(
            f"the blob service at {endpoint} answered {status} {code or ''} for container "
            f"'{container}': {_clean(exc)}")
    if isinstance(exc, (ValueError, TypeError)):  # e.g. an account key that is not base64
        return UserErrorException(
            f"the credential for storage account '{account}' is not usable ({type(exc).__name__}: "
            f"{_clean(exc)}); an account key is the base64 text shown in the portal")
    return UserErrorException(
        f"checking container '{container}' at {endpoint} failed: {type(exc).__name__}: "
        f"{_clean(exc)}")


def _clean(exc: Exception) -> str:
    """The first line of an exception's message, with signatures and keys masked."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return _SIG.sub(lambda m: m.group(0).split("=", 1)[0] + "=***", first)[:300]


AZURE_DATA_LAKE_GEN2 = "AzureDataLakeGen2"


def gen2_datastore(filesystem: str, account_name: str, tenant_id: str | None = None,
                   client_id: str | None = None, client_secret: str | None = None,
                   protocol: str | None = None, endpoint: str | None = None) -> tuple[str, dict]:
    """``(url, storage_options)`` of an Azure Data Lake Storage Gen2 filesystem, read through
    adlfs (``abfs://<filesystem>``, over the account's blob API, which Gen2 accounts serve).

    Credentials: a service principal (``tenant_id``, ``client_id``, ``client_secret``: all three
    or none); none means anonymous access (Azure would use the workspace's identity).
    ``endpoint``: the storage suffix (default ``core.windows.net``) or, an amlocal addition, the
    blob service's URL (an emulator's, read anonymously). Raises UserErrorException.
    """
    url, options = blob_datastore(filesystem, account_name, None, None, protocol, endpoint)
    principal = {"tenant_id": tenant_id, "client_id": client_id, "client_secret": client_secret}
    given = [k for k, v in principal.items() if v]
    if given and len(given) != 3:
        raise UserErrorException(
            f"a service principal needs tenant_id, client_id and client_secret; only "
            f"{', '.join(given)} given")
    if given:
        if "connection_string" in options:
            host = parse_connection_string(options.pop("connection_string"))["blobendpoint"]
            options["account_host"] = host.split("://", 1)[-1]
        options.pop("anon", None)
        options.update(principal)
    return "abfs://" + url.split("://", 1)[1], options
