"""The xdist scheduling order of tests/_schedule.py: the longest known units first."""

from __future__ import annotations

from pathlib import Path

from tests._schedule import KNOWN_SECONDS, expected_seconds, longest_first

ROOT = Path(__file__).resolve().parents[1]


def test_every_module_of_the_table_exists() -> None:
    """A renamed or removed module would keep its old time and lose its place: the table names files."""
    assert [module for module in KNOWN_SECONDS if not (ROOT / module).is_file()] == []


def test_longest_known_unit_first_then_most_tests() -> None:
    """The two Spark modules scheduled together (27 + 20 = 47 s) before the ledger crash module (16 s),
    before modules the table does not list, which keep xdist's order: most tests first, ties as given."""
    units = {
        "tests/test_text.py": dict.fromkeys(["tests/test_text.py::a", "tests/test_text.py::b"], False),
        "tests/test_json.py": dict.fromkeys([f"tests/test_json.py::t{i}" for i in range(5)], False),
        "spark": dict.fromkeys(
            [
                "tests/biometrics/test_biometrics_spark.py::x",
                "tests/linkage/test_linkage_audit_spark.py::y",
                "tests/linkage/test_linkage_audit_spark.py::z",
            ],
            False,
        ),
        "tests/test_result.py": dict.fromkeys(["tests/test_result.py::c", "tests/test_result.py::d"], False),
        "tests/ledger/test_ledger_crash.py": {"tests/ledger/test_ledger_crash.py::t": False},
    }
    assert expected_seconds(units["spark"]) == 27 + 20
    assert longest_first(units) == [
        "spark",
        "tests/ledger/test_ledger_crash.py",
        "tests/test_json.py",
        "tests/test_text.py",
        "tests/test_result.py",
    ]
