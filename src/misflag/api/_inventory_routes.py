"""HTTP routes of the inventory under `misflag serve`: an upload page, and the three audits on uploaded files.

`POST /inventory/{audit}` (audit: scorecard, history or check) takes inventory files as multipart uploads
and answers the result bundle (JSON) or, with `?format=html`, the HTML report. Uploads go to a private
temporary folder under the service's data dir, under names the server makes (an index and the file
name reduced to safe characters), and are removed when the request ends. The request body is limited
while it streams (see `_guard`); Parquet files are checked for rows and uncompressed size first.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from misflag.api._limits import check_parquet
from misflag.api._pages import render_page, report_response
from misflag.api._storage import open_private, private_dir
from misflag.api._uploads import display_name
from misflag.errors import InputError, MisflagError
from misflag.inventory import check, history, load_inventories, scorecard
from misflag.result import AuditResult

router = APIRouter(prefix="/inventory", tags=["inventory"])
_MAX_FILES = 20
_SUFFIXES = (".csv", ".csv.gz", ".parquet")


@router.get("/", response_class=HTMLResponse)
def page(request: Request) -> HTMLResponse:
    """The upload page."""
    return render_page("inventory.html", request=request)


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
    folder = Path(tempfile.mkdtemp(prefix="inventory-", dir=private_dir(settings.data_dir)))
    try:
        total = 0
        paths = []
        if len(files) > _MAX_FILES:
            raise InputError(f"send at most {_MAX_FILES} inventory files at once")
        for index, upload in enumerate(files):
            name = display_name(upload.filename or f"upload-{index}.csv")
            if not name.lower().endswith(_SUFFIXES):
                raise InputError(f"'{name}' is not a .csv, .csv.gz or .parquet inventory file")
            target = folder / f"{index:02d}-{name}"
            with open_private(target) as handle:
                while chunk := await upload.read(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise HTTPException(413, f"uploads exceed {limit:,} bytes")
                    handle.write(chunk)
            if target.suffix.lower() == ".parquet":
                check_parquet(target, name, max_rows=settings.max_rows, max_bytes=settings.max_parquet_bytes)
            paths.append(target)
        result = await run_in_threadpool(_run, audit, paths, year)
    except MisflagError as error:
        shown = re.sub(rf"{re.escape(str(folder))}/\d+-", "", str(error))  # the user's (safe) file name
        raise HTTPException(422, shown) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if format == "html":
        from misflag.report import render_report

        return report_response(render_report(result))
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
