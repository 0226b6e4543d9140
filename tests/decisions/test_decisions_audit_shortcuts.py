"""The decision audit's shortcuts give the audit it gave without them, and load less.

- With nothing withheld, the rows as they read unsuppressed (for the disclosure audit) are the published
  rows, copied instead of computed again: the result equals the one computed both ways.
- With nothing withheld and no earlier release, the disclosure audit builds no reader's model and the
  disclosure package is not even imported (`decisions._protect_open`): the audit it publishes, and the
  auditor's diagnostics kept in memory, equal the full one's, which checks no count (there is none).
- The score path orders its cells with numpy: no pyarrow.compute (nor pandas) is imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from misflag.decisions import _audit_cells, _protect, _protect_open, audit_decisions
from misflag.errors import InputError


def _log(path: Path, rows: int, small: bool) -> Path:
    """A log of `rows` rows over groups a, b (and a group of 4 people when `small`), with scores."""
    lines = [
        f"{'ab'[i % 2]},{i % 3 == 0:d},{i % 5 < 2:d},{(i * 37 % 101) / 100},{'xy'[i % 2]}"
        for i in range(rows)
    ]
    if small:
        lines += [f"c,1,{i % 2},0.{i + 1},x" for i in range(4)]
    path.write_text("g,flag,truth,score,h\n" + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("small", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {"groups": ["g"]},
        {"groups": ["g", "h"], "intersect": True},
        {"groups": ["g"], "score": "score"},
        {"stages": [("algorithm", "flag"), ("review", "flag AND truth")], "groups": ["g", "h"]},
    ],
)
def test_the_shortcut_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: bool, options: dict[str, object]
) -> None:
    log = _log(tmp_path / "log.csv", 400, small)
    given = {"flag": "flag", **options} if "stages" not in options else dict(options)
    fast = audit_decisions(log, truth="truth", replicates=200, **given)  # type: ignore[arg-type]
    monkeypatch.setattr(_audit_cells._Audit, "withholds", lambda self: True)  # always compute them again
    slow = audit_decisions(log, truth="truth", replicates=200, **given)  # type: ignore[arg-type]
    assert fast.rows() == slow.rows()
    assert fast.metadata == slow.metadata
    assert any(r["suppressed"] for r in fast.rows()) == small


def test_a_score_audit_loads_neither_pyarrow_compute_nor_pandas(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.csv", 400, small=False)
    probe = (
        "import sys; from misflag.cli import main; "
        f"code = main(['decisions', 'audit', {str(log)!r}, '--flag', 'flag', '--score', 'score', '--truth', "
        "'truth', '--group', 'g', '--replicates', '100', '--format', 'json']); "
        "sys.stderr.write(repr(sorted(m for m in sys.modules if m in {'pyarrow.compute', 'pandas'})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr == "[]"
    assert '"stage": "score>=' in done.stdout  # the score stage ran


@pytest.mark.parametrize("small", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {"flag": "flag", "groups": ["g"]},
        {"flag": "flag", "groups": ["g", "h"], "intersect": True},
        {"stages": [("algorithm", "flag"), ("review", "flag AND truth")], "groups": ["g", "h"]},
        {"flag": "flag", "groups": ["g"], "score": "score"},
        {"flag": "flag", "groups": ["g", "h"], "weight": "1 + (h = 'x')::INT"},
        {"flag": "flag", "groups": ["g"], "min_cell": 1},
        {"flag": "flag", "groups": ["g"], "min_cell": 3},
        {"flag": "flag", "groups": ["g"], "min_cell": 11},
    ],
)
def test_nothing_withheld_builds_no_model_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: bool, options: dict[str, object]
) -> None:
    log = _log(tmp_path / "log.csv", 400, small)
    solved: list[int] = []
    full_audit = _protect.audit_outputs

    def counted(*args: object, **kwargs: object) -> object:
        solved.append(1)
        return full_audit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_protect, "audit_outputs", counted)
    fast = audit_decisions(log, truth="truth", replicates=200, **options)  # type: ignore[arg-type]
    withheld = any(r["suppressed"] for r in fast.rows())
    assert withheld == (small and options.get("min_cell") != 1)
    assert bool(solved) == withheld  # the model is built only where something is withheld
    # the full path, as if registered (with no earlier release), with its model built even so
    monkeypatch.setattr(_protect_open, "_registered", lambda: True)
    monkeypatch.setattr(_protect._Rounds, "nothing_to_audit", lambda self, rows: False)
    slow = audit_decisions(log, truth="truth", replicates=200, **options)  # type: ignore[arg-type]
    assert solved  # the full audit ran
    assert fast.rows() == slow.rows()
    assert fast.metadata == slow.metadata
    assert json.dumps(fast.metadata, default=str) == json.dumps(slow.metadata, default=str)  # key order too
    assert fast.metadata["disclosure_audit"].auditor_only == slow.metadata["disclosure_audit"].auditor_only
    assert fast.to_json() == slow.to_json()
    assert fast.summary == slow.summary
    if not small:  # by hand: no withheld count, so none checked, one round of the optimiser, no cut
        published = fast.metadata["disclosure_audit"]
        assert published["withheld_counts"] == 0
        # published: the release names, never how many groups the audit withheld on top of the rules
        # (it would tell a reader how many withheld groups are not small), nor its rounds or cuts
        assert set(published["secondary_suppression"]) == {"methods", "earlier_releases"}
        audit = published.auditor_only  # the auditor's diagnostics, never written
        assert audit["withheld_counts_checked"] == audit["withheld_counts_solved_by_their_own_lp"] == 0
        assert audit["narrowest_interval"] is None
        secondary = audit["secondary_suppression"]
        assert (secondary["rounds"], secondary["cuts"]) == (1, 0)
        assert set(secondary) == {
            "method",
            "solver",
            "cheapest_for_its_cuts",
            "rounds",
            "cuts",
            "earlier_releases",
        }


@pytest.mark.parametrize(
    ("small", "extra", "loaded"),
    [
        (False, [], False),  # nothing withheld, no register: the LP audit is not imported
        (True, [], True),  # a group of 4 people withheld: the LP audit runs
        (False, ["--min-cell", "300"], True),  # every group withheld for its size
        (False, ["--release-register", "{register}"], True),  # the register is consulted
    ],
)
def test_the_disclosure_package_loads_only_where_it_has_work(
    tmp_path: Path, small: bool, extra: list[str], loaded: bool
) -> None:
    """A command-line audit in a fresh process, its modules read at the end: the LP audit
    (`misflag.disclosure._audit`, with the reader's model) is imported exactly where something is withheld
    or a release register is given."""
    log = _log(tmp_path / "log.csv", 400, small)
    args = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--group", "g"]
    args += [a.format(register=tmp_path / "register.json") for a in extra]
    probe = (
        "import sys; from misflag.cli import main; "
        f"code = main({[*args, '--replicates', '100', '--format', 'json']!r}); "
        "sys.stderr.write(repr((code, 'misflag.disclosure._audit' in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines()[-1] == repr((0, loaded))
    assert ('"suppressed": true' in done.stdout) == (small or "--min-cell" in extra)


def test_more_groups_than_the_optimiser_takes_go_to_the_greedy_even_with_nothing_withheld(
    tmp_path: Path,
) -> None:
    """5,000 groups (the most an audit publishes) and the overall row, nothing withheld (min_cell 1: no
    count is sensitive): past the optimiser's 5,000 groups, `_protect` runs the greedy escalation, so the
    shortcut must not be taken; the auditor's diagnostics say so."""
    path = tmp_path / "many.csv"
    path.write_text("g,flag,truth\n" + "".join(f"{i},{i % 2},{i % 3 == 0:d}\n" for i in range(5000)))
    result = audit_decisions(path, flag="flag", truth="truth", groups=["g"], min_cell=1, replicates=100)
    assert sum(r["metric"] == "n" for r in result.rows()) == 5001
    assert not any(r["suppressed"] for r in result.rows())
    secondary = result.metadata["disclosure_audit"].auditor_only["secondary_suppression"]
    assert secondary["method"] == "greedy"
    assert secondary["why"] == "5,001 groups, more than the 5,000 the optimiser takes"


def _wide(path: Path, small: bool) -> Path:
    """Three attributes of 100 values each, 30 rows per value (truth and flag balanced within each):
    101**3 cells x 6 states, past the 400,000 unknown counts the disclosure LP takes; `small` adds a
    group of 3 people to attribute a, which is withheld."""
    lines = [f"{i % 100},{i * 7 % 100},{i * 13 % 100},{(i // 100) % 2},{(i // 200) % 2}" for i in range(3000)]
    lines += [f"tiny,0,0,{i % 2},1" for i in range(3 if small else 0)]
    path.write_text("a,b,c,truth,flag\n" + "\n".join(lines) + "\n")
    return path


def test_an_audit_withholding_nothing_is_not_refused_for_its_lp_size(tmp_path: Path) -> None:
    """The LP's size limit refuses an output only where there is a withheld count to solve for."""
    options = {"flag": "flag", "truth": "truth", "groups": ["a", "b", "c"], "replicates": 100}
    result = audit_decisions(_wide(tmp_path / "wide.csv", small=False), **options)  # type: ignore[arg-type]
    rows = result.rows()
    assert not any(r["suppressed"] for r in rows)
    assert sum(r["metric"] == "n" and r["attribute"] == "a" for r in rows) == 100
    with pytest.raises(InputError, match="unknown counts"):
        audit_decisions(_wide(tmp_path / "wide_small.csv", small=True), **options)  # type: ignore[arg-type]
