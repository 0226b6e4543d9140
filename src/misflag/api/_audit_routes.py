"""The audit web page (upload, map columns, run, watch, read) and the same steps as a JSON API.

Pages: GET / → POST /upload → GET /uploads/{id} → POST /uploads/{id}/audit → GET /jobs/{id}.
JSON:  POST /api/uploads, GET|DELETE /api/uploads/{id}, POST /api/audits, GET|DELETE /api/jobs/{id}.
Files: /jobs/{id}/report.html, /jobs/{id}/result.json, /jobs/{id}/result.csv.
Job pages and files are built by the job's process or a bounded one (`_sandbox`), never the server's.
Every user-fixable problem becomes a one-line message (400, 403, 404, 409, 413 or 429), on the page or as JSON.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from misflag.api._audit_form import first_line, form_values, lines
from misflag.api._forms import spec_fields
from misflag.api._guard import Guard
from misflag.api._jobs import JobManager, JobStatus, refusal_status
from misflag.api._pages import render_page, report_response
from misflag.api._request import SPEC_FIELDS, AuditRequest, to_spec
from misflag.api._settings import ServeSettings
from misflag.api._storage import private_dir
from misflag.api._tasks import service_register
from misflag.api._uploads import (
    UploadRecord,
    load_record,
    receive_upload,
    upload_folder,
)
from misflag.api._workbench import AUDITS
from misflag.api._workbench_routes import CHART_SCRIPTS
from misflag.api._worker import page_content
from misflag.decisions import DecisionSpec
from misflag.errors import InputError, MisflagError

router = APIRouter()
#: The decision form: every DecisionSpec field the HTTP form carries, generated from the spec (flag and
#: help as on the command line); these first, the rest in the spec's order under "More options".
_FIRST = ("flag", "truth", "groups", "intersect")
DECISION_FIELDS = tuple(f for f in spec_fields(DecisionSpec) if f.name in SPEC_FIELDS)
FORM_FIELDS = {
    "first": tuple(next(f for f in DECISION_FIELDS if f.name == name) for name in _FIRST),
    "more": tuple(f for f in DECISION_FIELDS if f.name not in _FIRST),
}
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class UploadInfo(BaseModel):
    """An upload: its columns (identifier-looking ones masked) and a masked preview of the first rows."""

    upload_id: str
    filename: str
    size: int
    rows: int
    sha256: str
    columns: list[dict[str, Any]]
    preview: list[list[str]]


class JobInfo(BaseModel):
    """A job's state and, when done, where its report and result are."""

    job_id: str
    upload_id: str
    state: str
    step: str
    fraction: float
    error: str | None
    report_url: str | None
    result_url: str | None


def _settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


def _jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


def _record(request: Request, upload_id: str) -> UploadRecord:
    try:
        return load_record(_settings(request), upload_id)
    except KeyError:
        raise HTTPException(404, "no such upload (it may have expired); upload the file again") from None


def _status(request: Request, job_id: str) -> JobStatus:
    try:
        return _jobs(request).status(job_id)
    except KeyError:
        raise HTTPException(404, "no such job (it may have expired)") from None


def _job_info(status: JobStatus) -> JobInfo:
    done = status.state == "done"
    return JobInfo(
        job_id=status.job_id,
        upload_id=status.upload_id,
        state=status.state,
        step=status.step,
        fraction=status.fraction,
        error=status.error,
        report_url=f"/jobs/{status.job_id}/report.html" if done else None,
        result_url=f"/jobs/{status.job_id}/result.json" if done else None,
    )


def _refusal(problem: InputError) -> HTTPException:
    return HTTPException(refusal_status(problem), str(problem).splitlines()[0])


async def _receive(request: Request, page: bool = False) -> UploadRecord:
    await run_in_threadpool(_jobs(request).cleanup)
    guard: Guard = request.app.state.guard
    check = (lambda value: guard.form_token_ok(request, value)) if page else None
    try:
        return await receive_upload(request, _settings(request), _jobs(request).sandbox, check)
    except InputError as problem:
        raise _refusal(problem) from None


# JSON API -------------------------------------------------------------------------------------------
@router.post(
    "/api/uploads", status_code=201, response_model=UploadInfo, openapi_extra=_UPLOAD_BODY, tags=["audit"]
)
async def api_upload(request: Request) -> UploadInfo:
    """Upload a CSV or Parquet file (multipart field `file`)."""
    return UploadInfo(**(await _receive(request)).__dict__)


@router.get("/api/uploads/{upload_id}", response_model=UploadInfo, tags=["audit"])
def api_upload_info(request: Request, upload_id: str) -> UploadInfo:
    """An upload's columns and masked preview."""
    return UploadInfo(**_record(request, upload_id).__dict__)


@router.delete("/api/uploads/{upload_id}", status_code=204, tags=["audit"])
def api_upload_delete(request: Request, upload_id: str) -> Response:
    """Remove an upload (refused while an audit still reads it)."""
    record = _record(request, upload_id)
    if record.upload_id in _jobs(request).busy_uploads():
        raise HTTPException(409, "an audit of this upload is still running")
    shutil.rmtree(upload_folder(_settings(request), record.upload_id), ignore_errors=True)
    return Response(status_code=204)


@router.post("/api/audits", status_code=202, response_model=JobInfo, tags=["audit"])
def api_audit(request: Request, body: AuditRequest) -> JobInfo:  # type: ignore[valid-type]
    """Check the audit's expressions (as `misflag decisions audit` does) and start it as a background job."""
    record = _record(request, body.upload_id)  # type: ignore[attr-defined]
    try:
        status = _jobs(request).submit(record, _registered(request, record, to_spec(body)))
    except InputError as problem:
        raise _refusal(problem) from None
    return _job_info(status)


@router.get("/api/jobs/{job_id}", response_model=JobInfo, tags=["audit"])
def api_job(request: Request, job_id: str) -> JobInfo:
    """A job's state and progress."""
    return _job_info(_status(request, job_id))


@router.delete("/api/jobs/{job_id}", status_code=204, tags=["audit"])
def api_job_delete(request: Request, job_id: str) -> Response:
    """Remove a job and its report; a queued or running job is cancelled (its process is stopped)."""
    _status(request, job_id)
    try:
        _jobs(request).delete(job_id)
    except InputError as problem:
        raise HTTPException(409, str(problem)) from None
    return Response(status_code=204)


# Files of a finished job ----------------------------------------------------------------------------
def _job_file(request: Request, job_id: str, name: str) -> Any:
    status = _status(request, job_id)
    path = _jobs(request).folder(status.job_id) / name
    if status.state != "done" or not path.is_file():
        raise HTTPException(409, f"the job is {status.state}; its files exist once it is done")
    return path


@router.get("/jobs/{job_id}/report.html", response_class=HTMLResponse, tags=["files"])
def job_report(request: Request, job_id: str, download: bool = False) -> Response:
    """The self-contained HTML report (download=true: as an attachment)."""
    path = _job_file(request, job_id, "report.html")
    filename = f"misflag-report-{job_id[:8]}.html" if download else None
    return report_response(path.read_text(encoding="utf-8"), filename)


def pdf_available() -> bool:
    """Whether this machine has the Chromium that prints reports to PDF."""
    from misflag.report._pdf import find_chromium

    try:
        find_chromium()
    except MisflagError:
        return False
    return True


#: One PDF printed at a time: each is a Chromium process of its own.
_PDF_SLOT = threading.BoundedSemaphore(1)


@router.get("/jobs/{job_id}/report.pdf", tags=["files"])
def job_report_pdf(request: Request, job_id: str) -> FileResponse:
    """The report printed to PDF by headless Chromium (networking off), once per job; 429 while another prints."""
    from misflag.report._pdf import print_pdf

    source = _job_file(request, job_id, "report.html")
    target = source.with_name("report.pdf")
    if not target.is_file():
        if not pdf_available():
            raise HTTPException(404, "this machine has no Chromium to print PDFs; download the HTML report")
        if not _PDF_SLOT.acquire(blocking=False):
            raise HTTPException(429, "another PDF is being printed; try again in a minute")
        try:
            print_pdf(source.read_text(encoding="utf-8"), target)
        except MisflagError as problem:
            raise HTTPException(500, str(problem).splitlines()[0]) from None
        finally:
            _PDF_SLOT.release()
    return FileResponse(target, media_type="application/pdf", filename=f"misflag-report-{job_id[:8]}.pdf")


@router.get("/jobs/{job_id}/result.json", tags=["files"])
def job_result(request: Request, job_id: str) -> FileResponse:
    """The full result bundle (`misflag report` reads it)."""
    path = _job_file(request, job_id, "result.json")
    return FileResponse(path, media_type="application/json", filename=f"misflag-result-{job_id[:8]}.json")


@router.get("/jobs/{job_id}/result.csv", response_class=PlainTextResponse, tags=["files"])
def job_result_csv(request: Request, job_id: str) -> PlainTextResponse:
    """The long table as CSV; a cell a spreadsheet would run as a formula starts with an apostrophe."""
    path = _job_file(request, job_id, "result.csv")
    return PlainTextResponse(path.read_text(encoding="utf-8"), media_type="text/csv")


# Pages ----------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index_page(request: Request) -> HTMLResponse:
    return render_page("index.html", request=request, settings=_settings(request), audits=AUDITS)


@router.post("/upload", include_in_schema=False)
async def upload_page(request: Request) -> Response:
    try:
        record = await _receive(request, page=True)
    except HTTPException as problem:
        return render_page(
            "index.html",
            request=request,
            settings=_settings(request),
            audits=AUDITS,
            error=problem.detail,
            status=problem.status_code,
        )
    return RedirectResponse(f"/uploads/{record.upload_id}", status_code=303)


@router.get("/uploads/{upload_id}", response_class=HTMLResponse, include_in_schema=False)
def upload_view(request: Request, upload_id: str) -> HTMLResponse:
    return render_page(
        "upload.html", request=request, record=_record(request, upload_id), form={}, fields=FORM_FIELDS
    )


@router.post("/uploads/{upload_id}/audit", include_in_schema=False)
async def audit_page(request: Request, upload_id: str) -> Response:
    record = _record(request, upload_id)
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    guard: Guard = request.app.state.guard
    if not guard.form_token_ok(request, fields.get("csrf_token", "")):
        message = "the form's anti-forgery token is missing or stale; reload the page"
        return render_page(
            "upload.html",
            request=request,
            record=record,
            form=fields,
            error=message,
            status=403,
            fields=FORM_FIELDS,
        )
    groups = [str(v) for v in form.getlist("group") if isinstance(v, str) and v]
    groups += lines(fields.get("group_expressions", ""))
    try:
        body = AuditRequest(upload_id=record.upload_id, **form_values(fields, groups))
        spec = _registered(request, record, to_spec(body))
        status = await run_in_threadpool(_jobs(request).submit, record, spec)
    except (InputError, ValidationError, ValueError) as problem:
        code = _refusal(problem).status_code if isinstance(problem, InputError) else 400
        message = first_line(problem)
        return render_page(
            "upload.html",
            request=request,
            record=record,
            form=fields,
            error=message,
            status=code,
            fields=FORM_FIELDS,
        )
    return RedirectResponse(f"/jobs/{status.job_id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    status = _status(request, job_id)
    content = None
    if status.state == "done":
        path = str(_jobs(request).folder(job_id) / "result.json")
        try:
            content = _jobs(request).sandbox.run("building the page", page_content, path)
        except InputError as problem:
            raise _refusal(problem) from None
    if status.kind == "decisions":
        again = f"/uploads/{status.upload_id}" if status.upload_id else "/"
    else:
        again = f"/audits/{status.kind}" + (f"/uploads/{status.upload_id}" if status.upload_id else "")
    return render_page(
        "job.html",
        request=request,
        job=_job_info(status),
        content=content,
        again=again,
        charts=content is not None,
        chart_scripts=CHART_SCRIPTS,
        pdf=content is not None and pdf_available(),
    )


def _registered(request: Request, record: UploadRecord, spec: DecisionSpec) -> DecisionSpec:
    """With "protect against earlier releases", the service's own register of this upload's data: one
    per input sha256 in its data directory (HTTP carries no register path; docs/disclosure.md)."""
    if not spec.protect_releases:
        return spec
    register = service_register(_settings(request).data_dir, record.sha256)
    private_dir(register.parent)
    return replace(spec, release_register=register)
