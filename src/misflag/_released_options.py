"""The two spec fields of an audit that records its releases (`release_register`, `protect_releases`),
checked in one place for the monitor and the linkage audit: a file path or nothing, true or false, and
not both (a release is recorded in one place)."""

from __future__ import annotations

from pathlib import Path

from misflag._text import shown
from misflag.errors import InputError, literal


def check_register_fields(register: object, protect_releases: object) -> None:
    """InputError naming the field where `register` is not a Path or None, `protect_releases` not a bool,
    or both are given."""
    if register is not None and not isinstance(register, Path):
        raise InputError(f"{{release_register}} must be a file path, got {literal(shown(register))}")
    if not isinstance(protect_releases, bool):
        raise InputError(
            f"{{protect_releases}} must be true or false, got {literal(shown(protect_releases))}"
        )
    if register is not None and protect_releases:
        raise InputError(
            "give {release_register} or {protect_releases}, not both: a release is recorded in one place"
        )
