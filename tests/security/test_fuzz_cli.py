"""A small, seeded run of scripts/fuzz_cli.py: no generated CLI input ends in an internal error.

The full run (10,000 inputs) is `python scripts/fuzz_cli.py`; this one keeps the generators honest.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

from misflag.cli import main

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_cli.py"


def _fuzz_module() -> Any:
    spec = importlib.util.spec_from_file_location("misflag_fuzz_cli", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_three_hundred_generated_inputs_end_cleanly(tmp_path: Path) -> None:
    fuzz = _fuzz_module()
    rng = random.Random(20261201)
    files = fuzz.write_inputs(tmp_path)
    verdicts: dict[str, int] = {}
    defects = []
    for index in range(300):
        args = fuzz.generate(rng, tmp_path, files, index)
        verdict, detail = fuzz.run_one(main, args)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        if verdict not in {"ok", "refused"}:
            defects.append((verdict, args, detail))
    assert not defects, defects[:5]
    # The generators reach both ends: audits that run and inputs that are refused.
    assert verdicts.get("ok", 0) >= 20 and verdicts.get("refused", 0) >= 100, verdicts
