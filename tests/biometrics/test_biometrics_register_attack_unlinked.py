"""A decision audit and a biometric audit of one file are not linked (docs/biometrics.md, "Linked
releases"): each kind's reader leaves the other's releases out, though a decision log's flags and truth
can be a score file's matches and genuine flags, the same counts. The user is told, in a warning (one
`warning:` line on the command line, `tests/test_cli_warnings.py`), whenever the register or ledger
holds releases of the input by the other kind of audit (before, the audit passed in silence, and the
output looked protected against every release of the file); the web service's biometric form says so
beside its `--protect-releases` checkbox."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.biometrics.test_biometrics_lp_attack_two_releases import WITH_GROUP
from tests.biometrics.test_biometrics_release_register import (  # noqa: F401 (fixtures)
    biometrics,
    decisions,
    ledger_path,
    score_file,
)

BIOMETRIC_WARNING = (
    "the release register holds 1 decision audit release(s) of this input, which this biometric "
    "audit does not link: this output is protected only against its own kind's releases, not jointly with those"
)
DECISION_WARNING = (
    BIOMETRIC_WARNING.replace("decision", "@").replace("biometric", "decision").replace("@", "biometric")
)


def warned(run: Callable[[], int]) -> list[str]:
    """The warnings a command gives (exit 0 asserted), each message once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run() == 0
    return sorted({str(w.message) for w in caught})


@pytest.mark.parametrize("kind", ["register", "ledger"])
def test_each_kind_warns_of_the_other_kinds_releases(
    score_file: Path,  # noqa: F811
    ledger_path: Path,  # noqa: F811
    tmp_path: Path,
    kind: str,
) -> None:
    where = (
        ["--ledger", str(ledger_path)]
        if kind == "ledger"
        else ["--release-register", str(tmp_path / "r.json")]
    )
    assert (
        warned(lambda: decisions(score_file, tmp_path / "log.json", *where)) == []
    )  # nothing of the other kind
    assert warned(lambda: biometrics(score_file, tmp_path / "scores.json", *WITH_GROUP, *where)) == [
        BIOMETRIC_WARNING
    ]
    assert warned(lambda: decisions(score_file, tmp_path / "log2.json", "--min-cell", "12", *where)) == [
        DECISION_WARNING
    ]
    # the next biometric release is linked with the first as before, and told of both decision releases
    assert warned(lambda: biometrics(score_file, tmp_path / "scores2.json", *where)) == [
        BIOMETRIC_WARNING.replace("holds 1", "holds 2")
    ]


def test_another_inputs_releases_are_not_named(score_file: Path, tmp_path: Path) -> None:  # noqa: F811
    register = ["--release-register", str(tmp_path / "r.json")]
    other = tmp_path / "other.parquet"
    pd.read_parquet(score_file).iloc[1:].to_parquet(other)  # another digest
    assert warned(lambda: decisions(other, tmp_path / "log.json", *register)) == []
    assert warned(lambda: biometrics(score_file, tmp_path / "scores.json", *WITH_GROUP, *register)) == []


def test_the_web_form_says_so() -> None:
    """The biometric form's checkbox note: before, it named the register 'which the decision audit's jobs
    share', as if their releases were linked."""
    from misflag.api._workbench import AUDITS

    field = next(f for f in AUDITS["biometrics"].fields() if f.name == "protect_releases")
    assert "neither kind is protected against the other's" in field.note
    assert "earlier biometric releases of this upload's data" in field.note
