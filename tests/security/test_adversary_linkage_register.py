"""The two-outputs attack on the linkage audit (/tmp/p10/R_linkage_two_outputs.py, docs/linkage-audit.md)
replayed through the release register.

Groups A (20 people), B (16), C (4) at min_cell 10 (test_linkage_audit_withheld's records and pairs, now
CSV files: a release is keyed by its inputs' sha256). `--group group` withholds C and B; `--group` with C
folded into A publishes A + C, so together they give C's 4 people and its 4 wrongly linked people back
(the control, without a register; the counts by pandas). Through a register the second output is refused
in either order, in one line naming the first release and the setting that differs, and nothing is
recorded: the reader holds the first output alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from misflag.cli import main
from misflag.disclosure import ReleaseRegister
from misflag.errors import InputError
from misflag.linkage import LinkageAuditSpec, audit_linkage
from tests.linkage.test_linkage_audit_withheld import SIZES, _records_and_pairs, _wrongly_linked_by_hand

FOLDED = """CASE WHEN "group" = 'C' THEN 'A' ELSE "group" END"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    """The pairs and records as CSV files, and each group's wrongly linked people counted by pandas."""
    records, pairs = _records_and_pairs()
    folder = tmp_path_factory.mktemp("linkage")
    records.to_csv(folder / "records.csv", index=False)
    pairs.to_csv(folder / "pairs.csv", index=False)
    return folder / "pairs.csv", folder / "records.csv", _wrongly_linked_by_hand(records, pairs)


def _audit(files: tuple[Path, Path, Any], group: str, **register: Any) -> Any:
    pairs, records, _ = files
    spec = LinkageAuditSpec(cluster_column="cluster", groups=(group,), thresholds=(0.5,), **register)
    return audit_linkage(str(pairs), str(records), spec=spec)


def _shown_a(result: Any) -> tuple[int, int]:
    """Group A's people and wrongly linked people as the output publishes them (A + C when folded)."""
    row = result.select(metric="wrongful_link_rate", group="A")[0]
    assert not row["suppressed"]
    return round(row["denominator"]), round(row["value"] * row["denominator"])


def test_control_without_the_register_the_two_outputs_pin_c(files: tuple[Path, Path, Any]) -> None:
    one, two = _audit(files, "group"), _audit(files, FOLDED)
    withheld = {r["group"] for r in one.select(metric="wrongful_link_rate") if r["suppressed"]}
    assert withheld == {"B", "C"}
    (people_one, wrong_one), (people_two, wrong_two) = _shown_a(one), _shown_a(two)
    assert (people_two - people_one, wrong_two - wrong_one) == (SIZES["C"], files[2]["C"]) == (4, 4)


@pytest.mark.parametrize(("first", "second"), [("group", FOLDED), (FOLDED, "group")])
def test_the_second_output_is_refused_in_either_order(
    files: tuple[Path, Path, Any], tmp_path: Path, first: str, second: str
) -> None:
    register = tmp_path / "releases.json"
    published = _audit(files, first, release_register=register)
    before = register.read_bytes()
    with pytest.raises(InputError) as caught:
        _audit(files, second, release_register=register)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"earlier release '1: linkage by {first[:20]}")
    assert "groups [" in message and "could give withheld counts back" in message
    # the folded output withholds nothing itself: refused because the earlier one withholds, or it does
    because = "it withholds counts" if first == "group" else "this output withholds counts"
    assert because in message
    assert register.read_bytes() == before  # nothing recorded
    held = ReleaseRegister(register).releases
    assert [r["name"] for r in held] == [published.metadata["release"]]


def test_the_command_line_refuses_in_one_line_with_exit_2(
    files: tuple[Path, Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs, records, _ = files
    register = tmp_path / "releases.json"
    argv = ["linkage", "audit", str(pairs), "--records", str(records), "--truth", "cluster"]
    argv += ["--threshold", "0.5", "--release-register", str(register), "--format", "csv"]
    assert main([*argv, "--group", "group"]) == 0
    before = register.read_bytes()
    capsys.readouterr()
    assert main([*argv, "--group", FOLDED]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: earlier release '1: linkage by group at 0.5'") and "\n" not in err
    assert "--group ['group']" in err and "Traceback" not in err
    assert register.read_bytes() == before


def test_protect_releases_refuses_the_pair_in_the_data_directory(
    files: tuple[Path, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path / "data"))
    first = _audit(files, "group", protect_releases=True)
    assert first.metadata["spec"]["protect_releases"] is True
    assert first.metadata["spec"]["release_register"] is None  # no path is published
    with pytest.raises(InputError, match="could give withheld counts back"):
        _audit(files, FOLDED, protect_releases=True)
    kept = list((tmp_path / "data" / "releases").glob("*.json"))
    assert len(kept) == 1 and len(ReleaseRegister(kept[0]).releases) == 1


def test_other_records_are_other_inputs(files: tuple[Path, Path, Any], tmp_path: Path) -> None:
    """A release is keyed by both files: the same pairs over records with one more person are not linked
    (a documented limit, docs/linkage-audit.md); the register then holds both releases."""
    pairs, records, _ = files
    other = tmp_path / "records.csv"
    table = pd.read_csv(records)
    pd.concat([table, table.tail(1).assign(id="extra", cluster=999)]).to_csv(other, index=False)
    register = tmp_path / "releases.json"
    _audit(files, "group", release_register=register)
    spec = LinkageAuditSpec(
        cluster_column="cluster", groups=(FOLDED,), thresholds=(0.5,), release_register=register
    )
    audit_linkage(str(pairs), str(other), spec=spec)
    assert len(ReleaseRegister(register).releases) == 2
