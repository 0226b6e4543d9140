"""AI use-case inventories: normalized across years, scored, linked across years and checked.

`load_inventories` reads the 2023-2025 federal inventories (or a later year with its mapping file) into one
DuckDB table (with no path: the 2023-2025 federal inventories shipped in `data/`, see `manifest`);
`scorecard`, `history` and `check` return AuditResult objects of kind "inventory".
"""

from misflag.inventory._check import check, read_patterns
from misflag.inventory._data import data_folder, manifest, shipped_inventories
from misflag.inventory._history import history, settings_path
from misflag.inventory._load import Inventory, load_inventories
from misflag.inventory._mapping import PRACTICES
from misflag.inventory._scorecard import scorecard
from misflag.inventory._summary import load_summary

__all__ = [
    "PRACTICES",
    "Inventory",
    "check",
    "data_folder",
    "history",
    "load_inventories",
    "load_summary",
    "manifest",
    "read_patterns",
    "scorecard",
    "settings_path",
    "shipped_inventories",
]
