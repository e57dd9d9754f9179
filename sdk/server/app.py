"""The studio server's application: one FastAPI app per home, made of routers (``api_read``:
what clients and the page read; ``api_pipelines``: REST submission of published pipelines and
pipeline endpoints; ``api_schedules``; ``mlflow_api``: MLflow tracking), and the scheduler that
fires schedules while the server runs (``scheduler``)."""
from __future__ import annotations

import contextlib
import socket
import sys


def create_app(store=None, *, clock=None, run_scheduler: bool = True, host: str = "127.0.0.1"):
    """The app over ``store`` (the home's store when None). ``clock`` (a callable returning an
    aware UTC datetime) drives the scheduler; tests inject one. ``host`` is the address the
    server listens on: reads need no key on a loopback address only (``auth.read_access``)."""
    from fastapi import FastAPI

    from .. import __version__
    from ..store import open_store
    from . import (api_page, api_page_catalog, api_page_data, api_pipelines, api_read,
                   api_schedules, mlflow_api, page_routes)

    store = store if store is not None else open_store()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        scheduler = None
        if run_scheduler:
            from .scheduler import Scheduler
            scheduler = Scheduler(store, clock=clock)
            scheduler.start()
        app.state.scheduler = scheduler
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

    app = FastAPI(title="amlocal studio", version=__version__, lifespan=lifespan,
                  description="The REST API of an amlocal home: published pipelines and "
                              "pipeline endpoints (Azure ML v1's REST bodies), schedules, runs, "
                              "models, datasets, and MLflow tracking.")
    app.state.store = store
    app.state.clock = clock
    app.state.host = host
    _error_handlers(app)

    @app.get("/health", tags=["server"])
    def health() -> dict:
        return {"status": "Healthy"}

    for module in (api_read, api_pipelines, api_schedules, mlflow_api, api_page, api_page_catalog,
                   api_page_data, page_routes):
        app.include_router(module.router)
    return app


def _error_handlers(app) -> None:
    """amlocal's errors raised by a route become JSON answers, never a 500: NotFoundError is
    404, any other user error 400 (``{"detail": message}``, as FastAPI's own errors)."""
    from fastapi.responses import JSONResponse

    from ..errors import NotFoundError, UserErrorException

    @app.exception_handler(UserErrorException)
    async def user_error(request, exc):
        status = 404 if isinstance(exc, NotFoundError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)


def serve(host: str, port: int) -> int:
    """Bind, record this server in the home, and serve until SIGTERM/SIGINT."""
    import uvicorn

    from .._engine import studio
    from ..store.entities import utcnow
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets that say TCP (a plain proto 0
    # socket kept it on, and every answer on a kept-alive connection waited 40 ms for an ACK)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"amlocal studio: cannot listen on {host}:{port}: {exc}; choose another port "
              "(--port N or AMLOCAL_STUDIO_PORT)", file=sys.stderr)
        return 1
    sock.listen(128)
    bound = sock.getsockname()[1]
    import os
    app = create_app(host=host)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    studio.write_server_file(studio.ServerInfo(os.getpid(), host, bound, utcnow()))
    print(f"amlocal studio: serving this home at http://{host}:{bound}", file=sys.stderr,
          flush=True)
    try:
        server.run(sockets=[sock])
    finally:  # a stopped server is no longer found (a killed one is found dead by its pid)
        _forget(studio.server_file(), os.getpid())
    return 0


def _forget(path, pid: int) -> None:
    import json
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
