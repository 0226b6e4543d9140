"""HTTP routes of the inventory under `misflag serve`: an upload page, and the three audits on uploaded files.

`POST /inventory/{audit}` (audit: scorecard, history or check) takes inventory files as multipart uploads
and answers the result bundle (JSON) or, with `?format=html`, the HTML report. Uploads go to a temporary
folder under the service's data dir and are removed when the request ends.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from misflag.errors import MisflagError
from misflag.inventory import check, history, load_inventories, scorecard
from misflag.result import AuditResult

router = APIRouter(prefix="/inventory", tags=["inventory"])

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>misflag · AI use-case inventories</title>
</head><body><h1>AI use-case inventories</h1>
<p>Upload one or more federal AI use-case inventory files (CSV or Parquet; 2023, 2024, 2025 layouts).
The scorecard needs one year, the history two or more.</p>
<form method="post" enctype="multipart/form-data" id="audit">
<input type="file" name="files" multiple required>
<select name="audit" onchange="this.form.action='/inventory/'+this.value+'?format=html'">
<option value="">choose…</option><option>scorecard</option><option>history</option><option>check</option></select>
<button type="submit">Run</button></form></body></html>"""


@router.get("/", response_class=HTMLResponse)
def page() -> str:
    """The upload page."""
    return _PAGE


@router.post("/{audit}")
async def run_audit(
    request: Request,
    audit: Literal["scorecard", "history", "check"],
    files: list[UploadFile] = File(...),
    year: int | None = Query(None),
    format: Literal["json", "html"] = Query("json"),
) -> Response:
    """Run one inventory audit on the uploaded files; 422 with a one-line message on bad input."""
    settings = request.app.state.settings
    limit = settings.max_upload_bytes
    folder = Path(tempfile.mkdtemp(prefix="inventory-", dir=settings.data_dir))
    try:
        total = 0
        paths = []
        for index, upload in enumerate(files):
            name = Path(upload.filename or f"upload-{index}.csv").name
            target = folder / f"{index}-{name}"
            data = await upload.read()
            total += len(data)
            if total > limit:
                raise HTTPException(413, f"uploads exceed {limit:,} bytes")
            target.write_bytes(data)
            paths.append(target)
        result = _run(audit, paths, year)
    except MisflagError as error:
        raise HTTPException(422, str(error)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if format == "html":
        from misflag.report import render_report

        return HTMLResponse(render_report(result))
    return JSONResponse(result.to_bundle())


def _run(audit: str, paths: list[Path], year: int | None) -> AuditResult:
    inventory = load_inventories(paths)
    try:
        if audit == "scorecard":
            return scorecard(inventory, year=year)
        if audit == "history":
            return history(inventory)
        return check(inventory, year=year)
    finally:
        inventory.close()
