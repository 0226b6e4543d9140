"""HTTP routes of the ledger under `misflag serve`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ledger", tags=["ledger"])
