"""The decision audit's shortcuts give the audit it gave without them, and load less.

- With nothing withheld, the rows as they read unsuppressed (for the disclosure audit) are the published
  rows, copied instead of computed again: the result equals the one computed both ways.
- With nothing withheld and no earlier release, the disclosure audit builds no reader's model: the
  audit it publishes equals the full one, which checks no count (there is none to check).
- The score path orders its cells with numpy: no pyarrow.compute (nor pandas) is imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from misflag.decisions import _audit_cells, _protect, audit_decisions
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
    assert bool(solved) == small  # the model is built only where something is withheld
    monkeypatch.setattr(_protect._Rounds, "nothing_to_audit", lambda self, rows: False)
    slow = audit_decisions(log, truth="truth", replicates=200, **options)  # type: ignore[arg-type]
    assert solved  # the full audit ran
    assert fast.rows() == slow.rows()
    assert fast.metadata == slow.metadata
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
