"""The workbench pages: one page per audit, its "try it with sample data" button, uploads and forms.

GET /audits/{kind} (also /biometrics, /monitor, /linkage) → POST /audits/{kind}/sample, or
POST /audits/{kind}/run (audits without an upload: settings only), or POST /audits/{kind}/upload →
GET /audits/{kind}/uploads/{id} → POST /audits/{kind}/uploads/{id}/run → GET /jobs/{id}.
The decision audit's sample (COMPAS, as in `misflag demo`) is POST /audits/decisions/sample; its form
stays the upload page of `_audit_routes`. Every POST needs the page's anti-forgery token; every job runs
in a bounded process (`_jobs.submit_task`). The charts' scripts are the report's own vendored files.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from misflag._text import shown
from misflag.api._forms import read_form
from misflag.api._guard import Guard
from misflag.api._jobs import JobManager, JobsFull, refusal_status
from misflag.api._pages import render_page
from misflag.api._request import command_line as decisions_command
from misflag.api._settings import ServeSettings
from misflag.api._tasks import Task, service_register
from misflag.api._uploads import UploadRecord, input_path, load_record, receive_upload
from misflag.api._workbench import AUDITS, Audit, task
from misflag.api._workbench_columns import check_columns
from misflag.errors import InputError

router = APIRouter(include_in_schema=False)
#: The report's vendored chart scripts, served to job pages (one pinned Vega stack for page and report).
CHART_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
_ALIASES = {"/biometrics": "/audits/biometrics", "/monitor": "/audits/monitor", "/linkage": "/#linkage"}


def _audit(kind: str) -> Audit:
    if kind not in AUDITS:
        raise HTTPException(404, f"no audit called {shown(kind)}; the workbench at / lists them")
    return AUDITS[kind]


def _jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


def _settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


async def _form(request: Request) -> dict[str, str]:
    """The posted form's text fields; 403 unless its anti-forgery token matches the visitor's cookie."""
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    guard: Guard = request.app.state.guard
    if not guard.form_token_ok(request, fields.get("csrf_token", "")):
        raise HTTPException(403, "the form's anti-forgery token is missing or stale; reload the page")
    return fields


def _page(
    request: Request,
    audit: Audit,
    *,
    record: UploadRecord | None = None,
    second: UploadRecord | None = None,
    **context: Any,
) -> HTMLResponse:
    values = context.pop("form") if "form" in context else dict(audit.sample_values)
    return render_page(
        "audit.html", request=request, audit=audit, fields=audit.fields(), record=record, second=second, form=values,
        settings=_settings(request), **context,
    )  # fmt: skip


def _start(request: Request, job: Task) -> Response:
    try:
        status = _jobs(request).submit_task(job)
    except JobsFull as problem:
        raise HTTPException(429, str(problem)) from None
    return RedirectResponse(f"/jobs/{status.job_id}", status_code=303)


for _path, _target in _ALIASES.items():

    def _alias(target: str = _target) -> RedirectResponse:
        return RedirectResponse(target, status_code=307)

    router.add_api_route(_path, _alias, methods=["GET"])


@router.get("/static/charts/{name}")
def chart_script(name: str) -> Response:
    """One of the report's vendored chart scripts (the same files every report inlines)."""
    if name not in CHART_SCRIPTS:
        raise HTTPException(404, "no such file")
    text = (resources.files("misflag.report") / "static" / name).read_bytes()
    return Response(text, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@router.get("/audits/{kind}", response_class=HTMLResponse)
def audit_page(request: Request, kind: str) -> HTMLResponse:
    return _page(request, _audit(kind))


@router.post("/audits/decisions/sample")
async def decisions_sample(request: Request) -> Response:
    """COMPAS as in `misflag demo`: flag Medium/High, truth two_year_recid, race, reference Caucasian."""
    from misflag.commands.demo import FLAG, TRUTH
    from misflag.decisions import DecisionSpec

    await _form(request)
    spec = DecisionSpec(truth=TRUTH, flag=FLAG, groups=("race",), reference="Caucasian")
    name = "compas-scores-two-years.csv"
    job = Task("decisions", spec.to_dict(), filename=name, command=decisions_command(spec, name))
    return await run_in_threadpool(_start, request, job)


@router.post("/audits/{kind}/sample")
async def sample_run(request: Request, kind: str) -> Response:
    audit = _audit(kind)
    await _form(request)
    values = read_form(audit.fields(), audit.sample_values)
    job = task(audit, values, source=None, upload_id=None, filename="")
    return await run_in_threadpool(_start, request, job)


@router.post("/audits/{kind}/run")
async def settings_run(request: Request, kind: str) -> Response:
    """An audit without an upload (its input is its settings, or the sample data)."""
    audit = _audit(kind)
    if audit.uploads:
        raise HTTPException(404, "this audit reads an uploaded file: upload one first")
    fields = await _form(request)
    try:
        values = read_form(audit.fields(), fields)
        job = task(audit, values, source=None, upload_id=None, filename="")
        return await run_in_threadpool(_start, request, job)
    except InputError as problem:
        return _page(request, audit, form=fields, error=str(problem).splitlines()[0], status=400)


@router.post("/audits/{kind}/upload")
async def upload(request: Request, kind: str) -> Response:
    audit = _audit(kind)
    if not audit.uploads:
        raise HTTPException(404, "this audit takes no upload")
    await run_in_threadpool(_jobs(request).cleanup)
    guard: Guard = request.app.state.guard
    try:
        record = await receive_upload(
            request, _settings(request), _jobs(request).sandbox, lambda v: guard.form_token_ok(request, v)
        )
    except InputError as problem:
        return _page(request, audit, error=str(problem).splitlines()[0], status=refusal_status(problem))
    return RedirectResponse(f"/audits/{kind}/uploads/{record.upload_id}", status_code=303)


def _record(request: Request, upload_id: str) -> UploadRecord:
    try:
        return load_record(_settings(request), upload_id)
    except KeyError:
        raise HTTPException(404, "no such upload (it may have expired); upload the file again") from None


@router.get("/audits/{kind}/uploads/{upload_id}", response_class=HTMLResponse)
def upload_page(request: Request, kind: str, upload_id: str, records: str | None = None) -> HTMLResponse:
    audit = _audit(kind)
    second = _record(request, records) if records and audit.second_upload else None
    return _page(request, audit, record=_record(request, upload_id), second=second, form={})


@router.post("/audits/{kind}/uploads/{upload_id}/records")
async def second_upload(request: Request, kind: str, upload_id: str) -> Response:
    """The second file of an audit that reads two (the linkage audit's records, after its pairs)."""
    audit = _audit(kind)
    first = _record(request, upload_id)
    if not audit.second_upload:
        raise HTTPException(404, "this audit reads one file")
    guard: Guard = request.app.state.guard
    try:
        record = await receive_upload(
            request, _settings(request), _jobs(request).sandbox, lambda v: guard.form_token_ok(request, v)
        )
    except InputError as problem:
        message = str(problem).splitlines()[0]
        return _page(
            request, audit, record=first, second=None, form={}, error=message, status=refusal_status(problem)
        )
    return RedirectResponse(
        f"/audits/{kind}/uploads/{first.upload_id}?records={record.upload_id}", status_code=303
    )


@router.post("/audits/{kind}/uploads/{upload_id}/run")
async def upload_run(request: Request, kind: str, upload_id: str) -> Response:
    audit = _audit(kind)
    record = _record(request, upload_id)
    fields = await _form(request)
    second = _record(request, fields.get("records", "")) if audit.second_upload else None
    checked = second or record  # the expressions of a two-file audit read the second file (the records)
    columns = [c["name"] for c in checked.columns]
    masked = {c["name"]: c["masked"] for c in checked.columns if c["masked"]}
    settings = _settings(request)
    try:
        values = read_form(audit.fields(), fields)
        check_columns(audit, values, columns, masked)
        job = task(
            audit,
            values,
            source=str(input_path(settings, record)),
            upload_id=record.upload_id,
            filename=record.filename,
            second=str(input_path(settings, second)) if second is not None else None,
            second_upload_id=second.upload_id if second is not None else None,
            register=service_register(settings.data_dir, record.sha256),
        )
        return await run_in_threadpool(_start, request, job)
    except InputError as problem:
        message = str(problem).splitlines()[0]
        return _page(request, audit, record=record, second=second, form=fields, error=message, status=400)
