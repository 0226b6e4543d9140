"""Re-estimate the m and u probabilities of the inventory history linker from the inventories themselves.

Splink's own training, no labels: u by random sampling of record pairs, m by expectation maximisation over
the agency blocks, on the 2024 -> 2025 inventories. The learnt m and u are written into
src/misflag/inventory/history_splink.json; the prior (probability_two_random_records_match, the share of
same-agency pairs that are links) is kept as it stands, because EM over blocked pairs estimates the share
within blocks, not among all pairs. The hand labels in tests/inventory/data are not read here: they stay
test data. Run: python scripts/train_history_linker.py [INVENTORY_FOLDER]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from misflag.inventory import load_inventories
from misflag.inventory._features import link_features, year_features
from misflag.inventory._history import settings_path
from misflag.linkage import link

PREVIOUS, CURRENT = 2024, 2025


def _without_probabilities(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of the settings with every m and u removed, so Splink trains them."""
    untrained = json.loads(json.dumps(settings))
    for comparison in untrained["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("m_probability", None)
            level.pop("u_probability", None)
    return untrained


def main(folder: str | None) -> None:
    """Train on the inventories in `folder` (default: the shipped ones) and rewrite the shipped settings' m and u."""
    inventory = load_inventories([Path(folder)] if folder else [])
    link_features(inventory, inventory.years)
    path = settings_path()
    settings = json.loads(path.read_text(encoding="utf-8"))
    run = link(
        _without_probabilities(settings),
        [year_features(inventory, PREVIOUS), year_features(inventory, CURRENT)],
        train=True,
        seed=0,
    )
    for comparison, learnt in zip(settings["comparisons"], run.model["comparisons"], strict=True):
        for level, trained in zip(comparison["comparison_levels"], learnt["comparison_levels"], strict=True):
            if not level.get("is_null_level"):
                level["m_probability"] = float(f"{trained['m_probability']:.4g}")
                level["u_probability"] = float(f"{trained['u_probability']:.4g}")
                print(
                    f"{comparison['output_column_name']:12} {level['label_for_charts']:45} "
                    f"m={level['m_probability']:<8g} u={level['u_probability']:g}"
                )
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    print(f"written to {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
