"""Loading: counts per year, agency and impact class equal an independent pandas count of the raw files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from misflag.errors import InputError, RuleError
from misflag.inventory import load_inventories
from misflag.inventory._mapping import CATEGORIES, builtin_mappings

IMPACT_2024 = "Is the AI use case rights-impacting, safety-impacting, both, or neither?"


def _raw(folder: Path, name: str, encoding: str = "utf-8") -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False, encoding=encoding)


def test_every_2025_row_loads_and_must_show_counts(inventory, folder: Path) -> None:
    raw = _raw(folder, "2025_individually_reported_AI_use_cases.csv")
    table = inventory.table(2025).to_pandas()
    assert len(raw) == len(table) == 3611
    high = raw[raw["is_high_impact"] == "High-impact"]
    assert len(high) == 445 == (table["impact"] == "high_impact").sum()
    assert (high["hi_appeal_process"] == "Appeal Process Established").sum() == 16
    assert ((table["impact"] == "high_impact") & (table["practice_appeal"] == "established")).sum() == 16


def test_counts_per_agency_and_impact_match_pandas(inventory, folder: Path) -> None:
    raw25 = _raw(folder, "2025_individually_reported_AI_use_cases.csv")
    raw24 = _raw(folder, "2024_consolidated_ai_inventory_raw_v2.csv", encoding="cp1252")
    raw23 = _raw(folder, "2023_consolidated_ai_inventory_raw.csv")
    table = inventory.table().to_pandas()
    expected = {
        2025: raw25["agency"].str.strip().str.upper().value_counts(),
        2024: raw24["Agency Abbreviation"].str.strip().str.upper().value_counts(),
        2023: raw23["Department_Code"].str.strip().str.upper().replace({"DOS": "STATE"}).value_counts(),
    }
    for year, counts in expected.items():
        got = table[table["year"] == year]["agency"].value_counts()
        assert got.sort_index().to_dict() == counts.sort_index().to_dict()
    impact24 = raw24[IMPACT_2024].str.strip().str.lower()
    high24 = impact24.isin(["rights-impacting", "safety-impacting", "both"]).sum()
    assert high24 == 351
    assert (table[table["year"] == 2024]["impact"] == "high_impact").sum() == high24
    impact25 = table[table["year"] == 2025]["impact"].value_counts().to_dict()
    assert impact25 == {
        "not_high_impact": 2630,
        "high_impact": 445,
        "not_reported": 426,
        "presumed_not_high_impact": 110,
    }
    assert table[table["year"] == 2023]["impact"].isna().all()  # the 2023 inventory did not ask


def test_every_2024_impact_value_maps_to_a_2025_category(folder: Path) -> None:
    mapping = next(m for m in builtin_mappings() if m.year == 2024)
    vocabulary = mapping.vocabularies["impact"]
    values = _raw(folder, "2024_consolidated_ai_inventory_raw_v2.csv", encoding="cp1252")[
        IMPACT_2024
    ].unique()
    mapped = {value: vocabulary.map(value) for value in values}
    assert set(mapped.values()) <= set(CATEGORIES["impact"])
    table = {
        "Rights-Impacting\n": "high_impact",
        "Safety-impacting": "high_impact",
        "Safety-Impacting": "high_impact",
        "Both": "high_impact",
        "Neither": "not_high_impact",
        "Case-by-case assessment": "not_high_impact",
        "": "not_reported",
    }
    for raw, category in table.items():
        assert mapped[raw] == category
    assert all(v == "not_high_impact" for k, v in mapped.items() if k.startswith("No, use case is too new"))


def test_raw_values_kept_and_unknowns_reported(inventory) -> None:
    table = inventory.table(2024).to_pandas()
    assert table["impact_raw"].str.contains("Rights-Impacting").any()
    issues = inventory.issues.to_pandas()
    assert (
        issues["kind"] != "skipped_file"
    ).all()  # the shipped inventories only (COTS: see test_inventory_shipped)
    unmapped = issues[(issues["kind"] == "unmapped_value") & (issues["year"] == 2025)]
    assert "hi_training_established" in set(unmapped["column"])  # monitoring answers in the training column
    assert (table["practice_appeal"] != "unmapped").all()


def test_unknown_column_reported_and_missing_columns_named(tmp_path: Path, folder: Path) -> None:
    raw = _raw(folder, "2025_individually_reported_AI_use_cases.csv").head(5)
    raw["my_extra_column"] = "x"
    path = tmp_path / "extra.csv"
    raw.to_csv(path, index=False)
    loaded = load_inventories([path])
    issues = loaded.issues.to_pandas()
    loaded.close()
    assert issues[issues["kind"] == "unknown_column"]["column"].tolist() == ["my_extra_column"]
    broken = tmp_path / "broken.csv"
    raw.drop(columns=["is_high_impact", "system_outputs"]).to_csv(broken, index=False)
    with pytest.raises(InputError, match="is_high_impact") as error:
        load_inventories([broken])
    assert "system_outputs" in str(error.value)


def test_bad_mapping_file_is_a_rule_error(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("format: misflag-inventory-mapping/1\nyear: 2026\nfields: {nonsense: {column: x}}\n")
    with pytest.raises(RuleError, match="nonsense"):
        load_inventories([tmp_path], mappings=[bad])


def test_database_round_trip(inventory, tmp_path: Path) -> None:
    path = inventory.save(tmp_path / "inv.duckdb")
    reopened = load_inventories([path])
    try:
        assert reopened.table().num_rows == inventory.table().num_rows == 710 + 2133 + 3611
        assert reopened.issues.num_rows == inventory.issues.num_rows
    finally:
        reopened.close()
