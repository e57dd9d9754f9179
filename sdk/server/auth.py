"""Keys on the studio server.

- Every state-changing request (POST, PUT, PATCH, DELETE) needs ``Authorization: Bearer <key>``
  with an active key: the routers use ``Depends(require_key)``; 401 otherwise, with
  ``WWW-Authenticate: Bearer``.
- Reads (GET) need no key while the server listens on a loopback address (127.0.0.1, ::1,
  localhost: only this machine's users reach it); on any other address every request needs a
  key: the routers put ``Depends(read_access)`` on their GET routes.
- A key sent with a read is checked even on loopback: a wrong or revoked key is refused (401),
  never silently ignored.

Keys are made with ``amlocal studio keys create NAME`` and kept hashed
(``amlocal.store.sql_keys``); the server never sees a key it did not hash.
"""
from __future__ import annotations


from fastapi import HTTPException, Request

from .._engine.studio import is_loopback   # the read rule's test, shared with the CLI



def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _refuse(reason: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=(f"{reason}: send 'Authorization: Bearer <key>' (make one with "
                "`amlocal studio keys create NAME`; in Python, "
                "InteractiveLoginAuthentication().get_authentication_header() gives one)"),
        headers={"WWW-Authenticate": "Bearer"})


def require_key(request: Request):
    """FastAPI dependency: the ApiKeyInfo of the request's key; 401 without a valid one."""
    key = bearer(request)
    info = request.app.state.store.verify_api_key(key) if key else None
    if info is None:
        raise _refuse("a valid key is needed" if key is None
                      else "this key is not valid (unknown or revoked)")
    return info


def read_access(request: Request):
    """FastAPI dependency for reads: no key needed on a loopback bind (returns None), a valid
    key on any other bind (returns its ApiKeyInfo). A key that is sent is always checked."""
    if bearer(request) is not None or request.headers.get("authorization"):
        return require_key(request)
    if is_loopback(getattr(request.app.state, "host", None)):
        return None
    raise _refuse("this server listens beyond this machine, so reads need a key too")
