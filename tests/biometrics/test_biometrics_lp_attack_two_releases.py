"""Two releases of the same scores, read together, and the release register that protects them jointly
(docs/biometrics.md, "Linked releases").

The same score file is audited twice, as an auditor publishing NIST's report-card layout and then a cross
table would: with `--group` equal to `--group-a` as well as `--group-a/--group-b`, and with the cross
table alone. Each output alone passes the attacker of `test_biometrics_lp_attack.py`; this reader takes
every figure either publishes (a figure withheld in one and published in the other is known) and solves
the same integer program (scipy's `milp`, the test's own model of the rows, not misflag's).

- Without a register (the control), the two place SMALL_PAIR's withheld X x X at exactly 8 comparisons.
- Through `--release-register`, the second is audited jointly with the first and withholds more: the
  same reader pins nothing across the two saved outputs.
- In the other order (the cross table first), no suppression of the second can protect the first: the
  second's labels alone (each group holds a genuine pair) and the first's figures pin group X's genuine
  pairs to 1..2 (shown here with every figure of the second withheld), so it is refused in one line,
  nothing written, the register unchanged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from misflag.cli import main
from misflag.disclosure._register import ReleaseRegister
from tests.biometrics._attacker import bundle_rows
from tests.biometrics.test_biometrics_lp_attack import (
    MIN_CELL,
    SMALL_PAIR,
    Cells,
    audit,
    intervals,
    pinned,
    safe,
    scores,
    truth,
)

AUDIT = [
    "--score",
    "score",
    "--genuine",
    "genuine",
    "--threshold",
    "0.5",
    "--group-a",
    "ga",
    "--group-b",
    "gb",
]
WITH_GROUP = ["--group", "ga"]


def together(*releases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every release's rows as one reader holds them: a row withheld in one release but published in
    another is published."""
    rows = [row for release in releases for row in release]
    known = {(r["attribute"], r["group"], r["stage"], r["metric"]) for r in rows if not r["suppressed"]}
    return [
        r
        for r in rows
        if not r["suppressed"] or (r["attribute"], r["group"], r["stage"], r["metric"]) not in known
    ]


def exposed(cells: Cells, rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Sensitive withheld counts (1 to min_cell - 1 by the cells as built) the reader pins, each range
    checked to hold the true count (the reader's model holds the data)."""
    found = intervals(list(cells), rows)
    for key, (low, high) in found.items():
        assert low <= truth(cells, *key) <= high
    sensitive = {key: ends for key, ends in found.items() if 1 <= truth(cells, *key) < MIN_CELL}
    assert sensitive  # something sensitive is withheld: the reader has something to find
    return {key: ends for key, ends in sensitive.items() if not safe(*ends)}


def saved_rows(path: Path) -> list[dict[str, Any]]:
    """A saved output's rows as the attacker reads them, with the metadata's rows_audited as the overall n."""
    return bundle_rows(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture
def score_file(tmp_path: Path) -> Path:
    path = tmp_path / "scores.parquet"
    scores(SMALL_PAIR).to_parquet(path)
    return path


def released(score_file: Path, save: Path, *options: str) -> int:
    return main(["biometrics", "audit", str(score_file), *AUDIT, *options, "--save", str(save)])


def test_each_release_alone_pins_nothing() -> None:
    assert not pinned(SMALL_PAIR, audit(SMALL_PAIR, MIN_CELL, with_group=True))
    assert not pinned(SMALL_PAIR, audit(SMALL_PAIR, MIN_CELL, with_group=False))


def test_without_the_register_the_two_releases_pin_withheld_cells() -> None:
    """The control: the same reader breaks the pair published apart."""
    found = intervals(
        list(SMALL_PAIR),
        together(audit(SMALL_PAIR, MIN_CELL, with_group=True), audit(SMALL_PAIR, MIN_CELL, with_group=False)),
    )
    # X x X: 1 + 5 impostor pairs and 2 genuine ones, withheld in the cross release
    assert sum(SMALL_PAIR[("X", "X")]) == 8 == truth(SMALL_PAIR, "ga × gb", "X × X", "n")
    assert found[("ga × gb", "X × X", "n")] == (8, 8)
    broken = {
        key for key, ends in found.items() if 1 <= truth(SMALL_PAIR, *key) < MIN_CELL and not safe(*ends)
    }
    assert ("ga × gb", "X × X", "n") in broken
    assert len(broken) >= 5


def test_through_the_register_the_pair_is_protected(score_file: Path, tmp_path: Path) -> None:
    register = tmp_path / "releases.json"
    first, second, apart = tmp_path / "first.json", tmp_path / "second.json", tmp_path / "apart.json"
    assert released(score_file, first, *WITH_GROUP, "--release-register", str(register)) == 0
    assert released(score_file, second, "--release-register", str(register)) == 0
    assert not exposed(SMALL_PAIR, together(saved_rows(first), saved_rows(second)))
    # the control on the same files: the cross table audited apart is what the reader breaks
    assert released(score_file, apart) == 0
    assert exposed(SMALL_PAIR, together(saved_rows(first), saved_rows(apart)))
    withheld = [sum(r["suppressed"] for r in saved_rows(path)) for path in (second, apart)]
    assert withheld[0] > withheld[1]
    # recorded as the decision audit records its releases: by the input's digest, named by number
    entries = json.loads(register.read_text(encoding="utf-8"))["releases"]
    digest = hashlib.sha256(score_file.read_bytes()).hexdigest()
    assert [(e["name"], e["sha256"]) for e in entries] == [
        ("1: biometrics by ga, ga × gb", digest),
        ("2: biometrics ga × gb", digest),
    ]
    assert json.loads(second.read_text(encoding="utf-8"))["metadata"]["release"] == "2: biometrics ga × gb"
    assert "releases.json" not in json.dumps(
        json.loads(second.read_text(encoding="utf-8"))["metadata"]["spec"]
    )
    # the decision audit's reader never reads a biometric release (its own model links them)
    assert ReleaseRegister(register).outputs(digest) == []


def test_a_release_no_suppression_can_protect_is_refused(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "releases.json"
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert released(score_file, first, "--release-register", str(register)) == 0
    before = register.read_bytes()
    capsys.readouterr()
    assert released(score_file, second, *WITH_GROUP, "--release-register", str(register)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: this audit cannot be published without exposing")
    assert "'1: biometrics ga × gb'" in err and "(e.g. ga = X, genuine_n: 1 to 2 comparisons)" in err
    assert register.read_bytes() == before and not second.exists()
    # the independent reader agrees: the second's rows, every figure withheld, pin group X's 2 genuine pairs
    whole = [dict(r, suppressed=True) for r in audit(SMALL_PAIR, MIN_CELL, with_group=True)]
    found = exposed(SMALL_PAIR, together(saved_rows(first), whole))
    assert found[("ga", "X", "genuine_n")] == (1, 2) and truth(SMALL_PAIR, "ga", "X", "genuine_n") == 2


def test_protect_releases_keeps_the_register_of_the_digest_in_the_data_directory(
    score_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert released(score_file, first, *WITH_GROUP, "--protect-releases") == 0
    assert released(score_file, second, "--protect-releases") == 0
    digest = hashlib.sha256(score_file.read_bytes()).hexdigest()
    register = tmp_path / "data" / "releases" / f"{digest}.json"
    assert len(json.loads(register.read_text(encoding="utf-8"))["releases"]) == 2
    assert (register.parent.stat().st_mode & 0o777) == 0o700
    assert not exposed(SMALL_PAIR, together(saved_rows(first), saved_rows(second)))
