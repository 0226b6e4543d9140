"""Subject ids that contradict the genuine flag stop the audit with one line: a genuine pair of two people,
an impostor pair of one, a missing id, and ids of two types (compared as text, so 3 and 3.0 differ) named
as such rather than blamed on the pairs alone."""

from __future__ import annotations

import pandas as pd
import pytest

from misflag.biometrics import audit_biometrics
from misflag.errors import InputError


def _log() -> pd.DataFrame:
    """Six people; every one-to-one pair of a ring is an impostor pair, each person's self-pair genuine."""
    people = range(6)
    impostors = [(a, (a + 1) % 6, 0, 0.2 + 0.1 * a) for a in people]
    genuines = [(a, a, 1, 0.9 - 0.05 * a) for a in people]
    return pd.DataFrame(impostors + genuines, columns=["sa", "sb", "genuine", "score"])


def _audit(log: pd.DataFrame) -> None:
    audit_biometrics(log, score="score", genuine="genuine", threshold=0.5, subject_a="sa", subject_b="sb")


def test_a_genuine_pair_of_two_people_is_refused() -> None:
    log = _log()
    log.loc[6, "sb"] = 5  # person 0's genuine pair now joins person 5
    with pytest.raises(
        InputError, match=r"^1 genuine pair\(s\) have two different subjects; a genuine pair is one person$"
    ):
        _audit(log)


def test_an_impostor_pair_of_one_person_is_refused() -> None:
    log = _log()
    log.loc[0, "sb"] = 0
    with pytest.raises(InputError, match=r"^1 impostor pair\(s\) have the same subject on both sides$"):
        _audit(log)


def test_a_missing_subject_is_refused() -> None:
    log = _log().astype({"sa": "Int64"})
    log.loc[2, "sa"] = pd.NA
    with pytest.raises(InputError, match="NULL in 1 row"):
        _audit(log)


def test_ids_of_two_types_say_they_were_compared_as_text() -> None:
    log = _log().astype({"sb": float})  # 3 against 3.0: as text, every genuine pair joins two ids
    with pytest.raises(InputError, match=r"^6 genuine pair.*different types, compared as text$"):
        _audit(log)
