"""benchmarks/decisions_weight.py loaded as a module: the weighted-mode tests draw their logs and
acceptance regions from the same code the documented coverage tables come from."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType


@cache
def weight_benchmark() -> ModuleType:
    """The benchmark module (loaded once per process)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "decisions_weight.py"
    spec = importlib.util.spec_from_file_location("decisions_weight", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module
