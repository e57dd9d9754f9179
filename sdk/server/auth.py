"""Keys on the studio server: every state-changing request needs ``Authorization: Bearer <key>``
(401 otherwise, with ``WWW-Authenticate: Bearer``); reads on loopback need none. Keys are made
with ``amlocal studio keys create NAME`` and kept hashed (``amlocal.store.sql_keys``)."""
from __future__ import annotations

from fastapi import HTTPException, Request


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_key(request: Request):
    """FastAPI dependency: the ApiKeyInfo of the request's key; 401 without a valid one."""
    key = bearer(request)
    info = request.app.state.store.verify_api_key(key) if key else None
    if info is None:
        raise HTTPException(
            status_code=401,
            detail=("a valid key is needed: send 'Authorization: Bearer <key>' (make one with "
                    "`amlocal studio keys create NAME`; in Python, "
                    "InteractiveLoginAuthentication().get_authentication_header() gives one)"),
            headers={"WWW-Authenticate": "Bearer"})
    return info
