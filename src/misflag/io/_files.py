"""Settings, rules and results files: JSON or YAML read with one clear error for every problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from misflag.errors import InputError, MisflagError

YAML_SUFFIXES = (".yaml", ".yml")


def read_data_file(path: str | Path, what: str, error: type[MisflagError] = InputError) -> dict[str, Any]:
    """A JSON (or, by suffix, YAML) file holding one object; `what` names it in the error, e.g. "rule file"."""
    source = Path(path)
    if not source.is_file():
        raise error(f"{what} {source} does not exist")
    try:
        text = source.read_text(encoding="utf-8")
        data = yaml.safe_load(text) if source.suffix.lower() in YAML_SUFFIXES else json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as problem:
        detail = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
        kind = "YAML" if source.suffix.lower() in YAML_SUFFIXES else "JSON"
        raise error(f"{what} {source} does not parse (not valid {kind}: {detail})") from None
    if not isinstance(data, dict):
        raise error(f"{what} {source} must hold an object (key: value pairs), not {type(data).__name__}")
    return data
