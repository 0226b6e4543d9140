"""Print an HTML report to PDF with headless Chromium (Debian's `chromium`), with networking disabled."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from misflag.errors import InputError, MisflagError

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Flags that keep Chromium from touching the network or the user's profile.
QUIET_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
_TIMEOUT_SECONDS = 180


def find_chromium() -> str:
    """Chromium's path: MISFLAG_CHROMIUM if set, else the first browser on PATH."""
    configured = os.environ.get("MISFLAG_CHROMIUM")
    if configured:
        if not Path(configured).exists():
            raise MisflagError(f"MISFLAG_CHROMIUM={configured} does not exist")
        return configured
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise MisflagError("--pdf needs Chromium: install it (apt-get install chromium) or set MISFLAG_CHROMIUM")


def print_pdf(html_text: str, pdf_path: Path) -> None:
    """Render `html_text` in headless Chromium and print it to `pdf_path` (written only if it succeeds)."""
    if not pdf_path.parent.is_dir():
        raise InputError(f"cannot write the PDF: folder {pdf_path.parent} does not exist")
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="misflag-pdf-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html_text, encoding="utf-8")
        out = Path(scratch) / "report.pdf"
        command = [
            browser,
            *QUIET_FLAGS,
            f"--user-data-dir={Path(scratch) / 'profile'}",
            "--no-pdf-header-footer",
            "--virtual-time-budget=15000",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise MisflagError(
                f"Chromium did not finish printing the PDF within {_TIMEOUT_SECONDS} s"
            ) from None
        if done.returncode != 0 or not out.is_file() or out.read_bytes()[:5] != b"%PDF-":
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise MisflagError(f"Chromium could not print the PDF (exit {done.returncode}): {detail}")
        partial = pdf_path.with_name(pdf_path.name + ".partial")
        shutil.copyfile(out, partial)
        partial.replace(pdf_path)
