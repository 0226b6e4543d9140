"""HTTP routes of the inventory under `misflag serve`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/inventory", tags=["inventory"])
