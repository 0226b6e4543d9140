"""The adversary of docs/inventory.md's load report and scorecard, with edited copies of the real 2025
inventory: an answer no mapping knows is never dropped, and a missing answer is never read as a
safeguard in place.

- Columns dropped: the 2025 layout without its appeal and independent-review columns loaded (they are
  not required) with both practices NULL, "not asked", and the scorecard said "0 high-impact use case(s)
  in 2025 lack one or both" with an empty `lacking_safeguards` (NULL NOT IN ... is not true): the 445
  high-impact use cases, none of which reports either safeguard, vanished from the list. A column the
  year's layout has and the file lacks now reads as blank answers (`missing`), reported as
  `missing_column` and named in the scorecard's summary; this test failed before that change (0 of 445
  listed). A missing free-text column (`agency_name`) is NULL, and the summary says so apart from the
  coded columns read as blank answers (before, it named it among the blank answers).
- Hostile answers (case and spacing variants, a no-break and a zero-width space, fullwidth letters, a
  spreadsheet formula, an escape sequence, 10,000 characters) in the appeal column: every high-impact use
  case is counted under exactly one status (unmapped included) per agency, every raw answer is kept as
  written, and every unmapped answer is listed in the load report with its row count, counted by pandas.
  The control maps unknown answers to nothing (NULL) instead of `unmapped`: the same check finds use cases
  dropped from the scorecard.
"""

from __future__ import annotations

from itertools import cycle
from pathlib import Path

import pandas as pd
import pytest

from misflag.inventory import Inventory, load_inventories, scorecard
from misflag.inventory._mapping import UNMAPPED, Vocabulary
from misflag.inventory._scorecard import STATUSES

APPEAL, REVIEW = "hi_appeal_process", "hi_independent_review"
HIGH_IMPACT = "High-impact"
VARIANTS = (
    "YES",
    "Yes.",
    "  Appeal Process Established  ",
    "Appeal\u00a0Process Established",
    "ｙｅｓ",
    "yes\u200b",
    "Maybe later",
    '=HYPERLINK("http://x")',
    "no\x1b[2J",
    "A" * 10_000,
)


@pytest.fixture(scope="module")
def raw25(folder: Path) -> pd.DataFrame:
    return pd.read_csv(
        folder / "2025_individually_reported_AI_use_cases.csv", dtype=str, keep_default_na=False
    )


def _load(frame: pd.DataFrame, path: Path) -> Inventory:
    frame.to_csv(path, index=False)
    return load_inventories([path])


def test_a_file_without_the_practice_columns_lists_every_high_impact_use_case_as_lacking(
    raw25: pd.DataFrame, tmp_path: Path
) -> None:
    high = int((raw25["is_high_impact"] == HIGH_IMPACT).sum())
    inventory = _load(raw25.drop(columns=[APPEAL, REVIEW]), tmp_path / "2025.csv")
    try:
        result = scorecard(inventory, year=2025)
        issues = inventory.issues.to_pandas()
    finally:
        inventory.close()
    assert high == 445 and result.extras["lacking_safeguards"].num_rows == high
    share = result.select(metric="appeal_missing_share", group="all", stage="2025")[0]
    assert (share["value"], share["denominator"]) == (1.0, high)
    missing = issues[issues["kind"] == "missing_column"]
    assert set(missing["column"]) == {APPEAL, REVIEW} and set(missing["rows"]) == {len(raw25)}
    assert (
        "445 high-impact use case(s) in 2025 lack one or both. Not in the file, so read as blank "
        in result.summary
    )
    assert f"'{APPEAL}' (2025)" in result.summary and f"'{REVIEW}' (2025)" in result.summary


def test_a_missing_free_text_column_is_named_as_left_empty_not_as_blank_answers(
    raw25: pd.DataFrame, tmp_path: Path
) -> None:
    """`agency_name` (free text, not required) and the appeal column dropped: the load leaves every
    agency name NULL and reads every appeal answer as blank (`missing`), and the summary says so of each,
    not "read as blank answers" of both (before, it named both as blank answers)."""
    inventory = _load(raw25.drop(columns=["agency_name", APPEAL]), tmp_path / "2025.csv")
    try:
        result = scorecard(inventory, year=2025)
        read = inventory.engine.sql(
            "SELECT COUNT(*) AS n, COUNT(agency_name) AS names, "
            "COUNT(*) FILTER (WHERE practice_appeal = 'missing') AS blank FROM use_cases WHERE year = 2025"
        ).to_pylist()[0]
    finally:
        inventory.close()
    assert read == {"n": len(raw25), "names": 0, "blank": len(raw25)}
    assert (
        f"Not in the file, so read as blank answers: '{APPEAL}' (2025). "
        "Not in the file, so left empty (NULL): 'agency_name' (2025). "
    ) in result.summary


def dropped(edited: pd.DataFrame, path: Path) -> list[str]:
    """Every way the load and the scorecard lose or change an answer of the edited appeal column."""
    inventory = _load(edited, path)
    try:
        card = scorecard(inventory, year=2025).extras["scorecard"].to_pandas()
        kept = inventory.engine.sql(  # uid is '2025-<row of the file>'
            "SELECT practice_appeal, practice_appeal_raw FROM use_cases WHERE year = 2025 "
            "ORDER BY CAST(split_part(uid, '-', 2) AS INTEGER)"
        ).to_pandas()
        issues = inventory.issues.to_pandas()
    finally:
        inventory.close()
    wrong = []
    statuses = card[[f"appeal_{status}" for status in STATUSES]].sum(axis=1)
    for row, total in zip(card.itertuples(), statuses, strict=True):
        if total != row.high_impact:
            wrong.append(
                f"{row.group}: {total} of {row.high_impact} high-impact use cases have an appeal status"
            )
    if kept["practice_appeal_raw"].tolist() != edited[APPEAL].tolist():
        wrong.append("a raw answer was not kept as written")
    listed = issues[(issues["kind"] == "unmapped_value") & (issues["column"] == APPEAL)]
    unmapped = kept.loc[kept["practice_appeal"] == UNMAPPED, "practice_appeal_raw"].value_counts()
    if dict(zip(listed["value"], listed["rows"], strict=True)) != unmapped.to_dict() or unmapped.empty:
        wrong.append(f"the load report lists {len(listed)} unmapped answers, the table holds {len(unmapped)}")
    return wrong


@pytest.fixture(scope="module")
def hostile(raw25: pd.DataFrame) -> pd.DataFrame:
    """The 2025 inventory with every third high-impact use case's appeal answer replaced by a variant."""
    edited = raw25.copy()
    rows = edited.index[edited["is_high_impact"] == HIGH_IMPACT][::3]
    edited.loc[rows, APPEAL] = [variant for variant, _ in zip(cycle(VARIANTS), rows, strict=False)]
    return edited


def test_hostile_answers_are_counted_kept_and_listed(hostile: pd.DataFrame, tmp_path: Path) -> None:
    assert dropped(hostile, tmp_path / "2025.csv") == []


def test_the_control_unknown_answers_mapped_to_nothing_are_caught(
    hostile: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapped = Vocabulary.map

    def forgetful(self: Vocabulary, raw: str | None) -> str | None:
        value = mapped(self, raw)
        return None if value == UNMAPPED else value

    monkeypatch.setattr(Vocabulary, "map", forgetful)
    wrong = dropped(hostile, tmp_path / "2025.csv")
    assert any("have an appeal status" in line for line in wrong), wrong
