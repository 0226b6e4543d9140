"""A linkage audit's refusals never echo a record id. Ids are what the web service masks and never prints
(the job page shows the error), and the CLI's line goes to logs; the message says how many and what is
wrong, and the user finds the rows with their own tools."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from misflag.errors import InputError
from misflag.linkage import LinkageAuditSpec, audit_linkage

SECRET = "SSN-078-05-1120"  # the id each hostile file carries where the refusal looks


def _records() -> pd.DataFrame:
    ids = [f"r{i}" for i in range(10)] + [SECRET]
    return pd.DataFrame({"id": ids, "c": list(range(11))})


def _pairs(*extra: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame([("r0", "r1", 0.9), ("r2", "r3", 0.4), *extra], columns=["id_l", "id_r", "score"])


@pytest.mark.parametrize(
    ("pairs", "records", "needle"),
    [
        (_pairs((SECRET, "r4", 1.5)), _records(), "1 pair(s) have a score outside [0, 1]"),
        (_pairs((SECRET, "r4", 0.5), ("r4", SECRET, 0.6)), _records(), "1 pair(s) are listed more than once"),
        (_pairs(("r4", "nobody-" + SECRET, 0.5)), _records(), "1 id(s) in the pairs file are absent"),
        (_pairs(), pd.concat([_records(), _records().tail(1)]), "1 record id(s) are missing or repeated"),
    ],
)
def test_refusals_name_no_record_id(pairs: pd.DataFrame, records: pd.DataFrame, needle: str) -> None:
    spec = LinkageAuditSpec(id_column="id", cluster_column="c", thresholds=(0.5,))
    with pytest.raises(InputError) as refused:
        audit_linkage(pairs, records, spec=spec)
    assert needle in str(refused.value) and SECRET not in str(refused.value), str(refused.value)


def test_labels_refusal_names_no_record_id(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(f"id_l,id_r,label,stratum,stratum_size\n{SECRET},r9,1,s,10\n", encoding="utf-8")
    spec = LinkageAuditSpec(id_column="id", thresholds=(0.5,))
    with pytest.raises(InputError) as refused:
        audit_linkage(_pairs(), _records(), spec=spec, labels=str(labels))
    assert "1 labelled pair(s) are not in the pairs file" in str(refused.value)
    assert SECRET not in str(refused.value)
