"""JSON the studio page needs beyond the read API (``/api/v1/page/...``): filled by the page work."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/page", tags=["page"])
