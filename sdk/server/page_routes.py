"""The studio page: static files shipped in the package (``page/``: HTML, ES modules, CSS; no
build step, no CDN), served at ``/studio/``. The page reads the JSON API only. Its files hold
no data, so they are served without a key."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

PAGE = Path(__file__).resolve().parent / "page"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".ico": "image/x-icon"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root():
    return RedirectResponse("/studio/")


@router.get("/studio/")
def page():
    return FileResponse(PAGE / "index.html", media_type=TYPES[".html"],
                        headers={"Cache-Control": "no-cache"})


@router.get("/studio/static/{path:path}")
def static(path: str):
    target = (PAGE / path).resolve()
    if not target.is_relative_to(PAGE) or not target.is_file() or target.suffix not in TYPES:
        raise HTTPException(status_code=404, detail=f"no page file {path!r}")
    return FileResponse(target, media_type=TYPES[target.suffix],
                        headers={"Cache-Control": "no-cache"})
