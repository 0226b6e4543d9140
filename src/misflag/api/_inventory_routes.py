"""HTTP routes of the inventory under `misflag serve`: an upload page, and the three audits on uploaded files.

`POST /inventory/{audit}` (audit: scorecard, history or check) takes inventory files as multipart uploads
and answers the result bundle (JSON) or, with `?format=html`, the HTML report. Uploads go to a private
temporary folder under the service's data dir, under names the server makes (an index and the file
name reduced to safe characters), and are removed when the request ends. The request body is limited
while it streams (see `_guard`). The server only copies the bytes: the files are checked (Parquet rows
and uncompressed size, csv.gz inflated size, counted while inflating) and audited in a process under
the OS limits of `_sandbox`.
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
from misflag.api._settings import ServeSettings
from misflag.api._storage import open_private, private_dir
from misflag.api._uploads import display_name
from misflag.errors import InputError, MisflagError
from misflag.inventory import check, history, load_inventories, scorecard
from misflag.io import check_inflated_size
from misflag.report import render_report

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
    by: Literal["agency", "bureau"] = Query("agency"),
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
            paths.append(target)
        sandbox = request.app.state.jobs.sandbox
        media_type, body = await run_in_threadpool(
            sandbox.run, f"the inventory {audit}", run_inventory, audit, paths, year, by, format, settings
        )
    except MisflagError as error:
        shown = re.sub(rf"{re.escape(str(folder))}/\d+-", "", str(error))  # the user's (safe) file name
        raise HTTPException(422, shown) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if media_type == "text/html":
        return report_response(body.decode("utf-8"))
    return Response(body, media_type=media_type)


def run_inventory(
    audit: str, paths: list[Path], year: int | None, by: str, answer: str, settings: ServeSettings
) -> tuple[str, bytes]:
    """Check the files, run one inventory audit and render its answer: run in a bounded process."""
    for path in paths:
        name = path.name.split("-", 1)[1]
        if path.name.lower().endswith(".parquet"):
            check_parquet(path, name, max_rows=settings.max_rows, max_bytes=settings.max_inventory_bytes)
        elif path.name.lower().endswith(".gz"):
            check_inflated_size(path, name, settings.max_inventory_bytes)
    inventory = load_inventories(paths)
    try:
        if audit == "scorecard":
            result = scorecard(inventory, year=year, by=by)
        elif audit == "history":
            result = history(inventory)
        else:
            result = check(inventory, year=year)
    finally:
        inventory.close()
    if answer == "html":
        return "text/html", render_report(result).encode("utf-8")
    return "application/json", bytes(JSONResponse(result.to_bundle()).body)
