"""The hand-checkable toy population of the linkage-risk tests: four surnames, two first names.

White people: ALVAREZ 300, BROWN 100 (surname shares .75, .25); Hispanic people: BROWN 100, CRUZ 300,
DIAZ 100 (.2, .6, .2); first names ANN and BO half each in both groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from misflag.linkage import GROUPS, PopulationModel

SURNAMES = [("ALVAREZ", 300, 100, 0), ("BROWN", 200, 50, 50), ("CRUZ", 300, 0, 100), ("DIAZ", 100, 0, 100)]
FIRST_NAMES = [("ANN", 100, 50, 50), ("BO", 100, 50, 50)]


def name_table(path: Path, rows: list[tuple[str, int, float, float]]) -> Path:
    """A Census-shaped table: name, count, and pct<group> with only white and Hispanic people."""
    columns: dict[str, list[Any]] = {"name": [r[0] for r in rows], "count": [r[1] for r in rows]}
    for group in GROUPS:
        columns[f"pct{group}"] = [
            r[2] if group == "white" else r[3] if group == "hispanic" else 0.0 for r in rows
        ]
    pq.write_table(pa.table(columns), path)
    return path


def toy_model(folder: Path, birth_years: Any) -> PopulationModel:
    """The toy as misflag's model, with the given birth-date model (a year's weights or a DobModel)."""
    surnames = name_table(folder / "s.parquet", SURNAMES)
    first = name_table(folder / "f.parquet", FIRST_NAMES)
    return PopulationModel.from_census(surnames, first, birth_years=birth_years)
