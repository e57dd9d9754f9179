"""MLflow tracking on the studio server: what ``ws.get_mlflow_tracking_uri()`` points at.

The tracking URI of a workspace has Azure's shape, on this server::

    http://127.0.0.1:8765/mlflow/v1.0/subscriptions/<sub>/resourceGroups/<rg>/providers/
        Microsoft.MachineLearningServices/workspaces/<name>

and the mlflow client calls ``<uri>/api/2.0/mlflow/...`` (tracking) and
``<uri>/api/2.0/mlflow-artifacts/artifacts/...`` (run files, for ``mlflow-artifacts:/`` artifact
URIs). ``http://127.0.0.1:8765/mlflow`` also works while the home has exactly one workspace.
The protocol is translated by :mod:`amlocal._engine.mlflow_tracking` (shared with the proxy
inside steps); errors answer in MLflow's shape (``{"error_code", "message"}``).

Keys: every request that changes something (POST, PUT, PATCH, DELETE) needs
``Authorization: Bearer <key>`` (the mlflow client sends ``MLFLOW_TRACKING_TOKEN`` so;
``get_mlflow_tracking_uri()`` sets it to the home's client key when it is unset); reads follow
the server's read rule (``auth.read_access``).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from .._engine.mlflow_tracking import WORKSPACE_PREFIX, Tracking
from .auth import read_access, require_key

router = APIRouter(tags=["mlflow"])

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
MAX_JSON_BODY = 16 << 20


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status,
                        headers=headers)


@router.api_route(WORKSPACE_PREFIX + "/api/2.0/{route:path}", methods=METHODS,
                  summary="MLflow tracking REST API of a workspace (MLflow's request bodies)")
async def workspace_tracking(request: Request, subscription_id: str, resource_group: str,
                             workspace_name: str, route: str):
    refused = _refused(request)   # the key first: no answer tells a caller which names exist
    if refused is not None:
        return refused
    store = request.app.state.store
    found = await run_in_threadpool(store.find_workspaces, workspace_name, resource_group,
                                    subscription_id)
    if not found:
        return _error(404, "RESOURCE_DOES_NOT_EXIST",
                      f"no workspace {workspace_name!r} in resource group {resource_group!r} of "
                      f"subscription {subscription_id!r} in this home; "
                      "ws.get_mlflow_tracking_uri() gives a workspace's tracking URI")
    return await _serve(request, found[0].id, route)


@router.api_route("/mlflow/api/2.0/{route:path}", methods=METHODS,
                  summary="MLflow tracking REST API of the home's only workspace")
async def home_tracking(request: Request, route: str):
    refused = _refused(request)
    if refused is not None:
        return refused
    store = request.app.state.store
    found = await run_in_threadpool(store.find_workspaces)
    if len(found) != 1:
        return _error(400 if found else 404, "INVALID_PARAMETER_VALUE" if found
                      else "RESOURCE_DOES_NOT_EXIST",
                      (f"this home has {len(found)} workspaces" if found
                       else "this home has no workspace") +
                      ": use the workspace's own tracking URI, ws.get_mlflow_tracking_uri() "
                      f"({WORKSPACE_PREFIX.replace('{', '<').replace('}', '>')})")
    return await _serve(request, found[0].id, route)


def _refused(request: Request) -> JSONResponse | None:
    """MLflow's error answer when the request's key does not pass the server's rule."""
    try:
        if request.method.upper() == "GET":
            read_access(request)
        else:
            require_key(request)
    except HTTPException as exc:
        return _error(exc.status_code, "UNAUTHENTICATED", str(exc.detail), exc.headers)
    return None


async def _serve(request: Request, workspace_id: str, route: str):
    method = request.method.upper()
    args: dict = dict(request.query_params)
    scratch = Path(tempfile.mkdtemp(prefix="amlocal-mlflow-"))
    upload = None
    try:
        if method == "PUT":
            upload = scratch / "upload"
            with open(upload, "wb") as out:
                async for chunk in request.stream():
                    out.write(chunk)
        elif method in ("POST", "PATCH", "DELETE"):
            body = await request.body()
            if len(body) > MAX_JSON_BODY:
                shutil.rmtree(scratch, ignore_errors=True)
                return _error(413, "INVALID_PARAMETER_VALUE",
                              f"the request body is over {MAX_JSON_BODY >> 20} MiB")
            if body.strip():
                try:
                    parsed = json.loads(body)
                except (ValueError, UnicodeDecodeError) as exc:
                    shutil.rmtree(scratch, ignore_errors=True)
                    return _error(400, "MALFORMED_REQUEST", f"the body is not JSON: {exc}")
                if not isinstance(parsed, dict):
                    shutil.rmtree(scratch, ignore_errors=True)
                    return _error(400, "MALFORMED_REQUEST", "the body is a JSON object")
                args.update(parsed)
        tracking = Tracking(request.app.state.store, workspace_id)
        reply = await run_in_threadpool(tracking.handle, method, route.strip("/"), args,
                                        upload=upload, scratch=scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if reply.file is not None:
        return FileResponse(reply.file, media_type="application/octet-stream",
                            background=BackgroundTask(shutil.rmtree, scratch, True))
    shutil.rmtree(scratch, ignore_errors=True)
    return JSONResponse(reply.json if reply.json is not None else {}, status_code=reply.status)

