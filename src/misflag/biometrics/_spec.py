"""What a biometric audit asks, as plain data that round-trips through JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from misflag._spec_options import option
from misflag._text import shown
from misflag.errors import InputError, literal

#: The settings that are optional SQL expressions (or a group's name).
_OPTIONAL_TEXT = (
    "group", "where", "threshold_group", "reference", "group_a", "group_b", "subject_a", "subject_b",
)  # fmt: skip


#: The largest --min-cell: group sizes are compared as floats, exact up to 2^53 (a larger one overflowed).
MAX_MIN_CELL = 2**53


@dataclass(frozen=True)
class BiometricSpec:
    """A verifier's (or one-to-many search log's) error rates per group at its operating thresholds.

    One row of the input is one comparison (or, with `search`, one search). Every column option is a SQL
    expression over the input. A pair is a match when score >= threshold (score <= threshold with
    `distance`, for dissimilarity scores). Operating thresholds are the given `thresholds`, and for each
    `target_fmrs` value the most lenient threshold whose FMR over all impostor pairs (over those of
    `threshold_group` when given, NIST's reference-group method) is at most the target.
    """

    score: str = field(metadata=option("SQL expression: the comparison score."))
    genuine: str = field(
        metadata=option(
            "SQL expression: 1 = genuine pair (mated search), 0 = impostor.", aliases=("--mated",)
        )
    )
    group: str | None = field(default=None, metadata=option("SQL expression defining demographic groups."))
    where: str | None = field(
        default=None, metadata=option("SQL filter: only comparisons where this is true.")
    )
    thresholds: tuple[float, ...] = field(
        default=(), metadata=option("Operating threshold (repeatable).", "--threshold")
    )
    target_fmrs: tuple[float, ...] = field(
        default=(),
        metadata=option(
            "Find the threshold giving this FMR (FPIR with --search); repeatable.", "--target-fmr"
        ),
    )
    threshold_group: str | None = field(
        default=None, metadata=option("Set --target-fmr thresholds on this group's impostor pairs only.")
    )
    reference: str | None = field(default=None, metadata=option("Reference group of ratios."))
    distance: bool = field(
        default=False, metadata=option("Scores are distances: a match is score <= threshold.")
    )
    search: bool = field(
        default=False,
        metadata=option("Rows are one-to-many searches: report FPIR and FNIR (NULL score: no candidate)."),
    )
    group_a: str | None = field(
        default=None,
        metadata=option("SQL expression: the first sample's group (--search: the searched person's)."),
    )
    group_b: str | None = field(
        default=None,
        metadata=option("SQL expression: the second sample's group (--search: the returned candidate's)."),
    )
    subject_a: str | None = field(
        default=None, metadata=option("SQL expression: the first sample's subject id.")
    )
    subject_b: str | None = field(
        default=None, metadata=option("SQL expression: the second sample's subject id.")
    )
    fdr_alpha: float = field(default=0.5, metadata=option("Weight of the FMR gap in the FDR."))
    min_cell: int = field(
        default=10, metadata=option("Suppress groups with fewer comparisons (or subjects).")
    )
    bins: int = field(default=2000, metadata=option("Score bins of the curves."))
    seed: int = field(default=0, metadata=option("Seed of the summaries' interval draws."))
    release_register: Path | None = field(
        default=None,
        metadata=option(
            "Release register (JSON, private): protect against earlier releases of the same scores, record "
            "this one."
        ),
    )
    protect_releases: bool = field(
        default=False,
        metadata=option(
            "Protect against earlier releases of the same scores, record this one: in the register of the "
            "input's sha256 in misflag's data directory."
        ),
    )
    ledger: str | None = field(
        default=None,
        metadata=option(
            "Protect against earlier releases of the same scores, record this one: in this decision ledger "
            "(SQLite path or postgresql:// URL)."
        ),
    )

    def __post_init__(self) -> None:
        self._check_types()
        self._check_register()
        if not self.thresholds and not self.target_fmrs:
            raise InputError("give an operating point: {threshold} T, or {target_fmr} F (repeatable)")
        for value in self.thresholds:
            if not math.isfinite(value):
                raise InputError(f"{{threshold}} must be a finite number, got {value}")
        for value in self.target_fmrs:
            if not 0 < value < 1:
                raise InputError(f"{{target_fmr}} must be between 0 and 1, got {value}")
        if self.threshold_group is not None and not self.target_fmrs:
            raise InputError("{threshold_group} sets the threshold for a {target_fmr}; give one")
        if self.threshold_group is not None and self.group is None:
            raise InputError("{threshold_group} names a group of {group}; give {group}")
        if (self.group_a is None) != (self.group_b is None):
            raise InputError("give both {group_a} and {group_b} (each sample's group), or neither")
        if (self.subject_a is None) != (self.subject_b is None):
            raise InputError("give both {subject_a} and {subject_b} (each sample's subject id), or neither")
        if not 0 <= self.fdr_alpha <= 1:
            raise InputError(f"{{fdr_alpha}} must be between 0 and 1, got {shown(self.fdr_alpha)}")
        if not 1 <= self.min_cell <= MAX_MIN_CELL:
            raise InputError(f"{{min_cell}} must be between 1 and 2^53, got {shown(self.min_cell)}")
        if not 10 <= self.bins <= 100_000:
            raise InputError(f"{{bins}} must be between 10 and 100,000, got {shown(self.bins)}")
        if self.seed < 0:
            raise InputError(f"{{seed}} must be at least 0, got {shown(self.seed)}")

    def _check_types(self) -> None:
        """Each setting of its type: a JSON settings file can hold anything (a string seed, a "no" flag,
        which Python would read as true), and a wrong type must stop with one line, not a traceback."""
        for name in ("score", "genuine"):
            if not isinstance(getattr(self, name), str):
                raise InputError(
                    f"{{{name}}} must be text (a SQL expression), got {literal(shown(getattr(self, name)))}"
                )
        for name in _OPTIONAL_TEXT:
            if not isinstance(getattr(self, name), str | None):
                raise InputError(
                    f"{{{name}}} must be text (a SQL expression), got {literal(shown(getattr(self, name)))}"
                )
        for name in ("distance", "search"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(
                    f"{{{name}}} must be true or false, got {literal(shown(getattr(self, name)))}"
                )
        for name in ("min_cell", "bins", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral):  # numpy's integers too
                raise InputError(f"{{{name}}} must be a whole number, got {literal(shown(value))}")
        if isinstance(self.fdr_alpha, bool) or not isinstance(self.fdr_alpha, Real):
            raise InputError(f"{{fdr_alpha}} must be a number, got {literal(shown(self.fdr_alpha))}")
        for name, flag in (("thresholds", "threshold"), ("target_fmrs", "target_fmr")):
            values = getattr(self, name)
            if isinstance(values, str | bytes) or not all(
                isinstance(v, Real | Decimal) and not isinstance(v, bool) for v in values
            ):
                raise InputError(f"{{{flag}}} must be numbers, got {literal(shown(values))}")
            object.__setattr__(self, name, tuple(float(v) for v in values))  # numpy's floats as Python's

    def _check_register(self) -> None:
        """Where the release is recorded: a register file, the data directory's register or a ledger, at
        most one (a release is recorded in one place), each of its type; a blank ledger is refused (it
        would name the working folder)."""
        register, ledger = self.release_register, self.ledger
        if register is not None and not isinstance(register, Path):
            raise InputError(f"{{release_register}} must be a file path, got {literal(shown(register))}")
        if not isinstance(self.protect_releases, bool):
            raise InputError(
                f"{{protect_releases}} must be true or false, got {literal(shown(self.protect_releases))}"
            )
        if ledger is not None and (not isinstance(ledger, str) or not ledger.strip()):
            raise InputError(
                f"{{ledger}} must be a ledger's URL or SQLite path (text), got {literal(shown(ledger))}"
            )
        if sum((register is not None, self.protect_releases, ledger is not None)) > 1:
            raise InputError(
                "give one of {release_register}, {protect_releases} and {ledger}: a release is recorded in one place"
            )

    @property
    def registered(self) -> bool:
        """Whether the output is protected against earlier releases and recorded (a register or a ledger)."""
        return self.release_register is not None or self.protect_releases or self.ledger is not None

    @property
    def false_positive(self) -> str:
        """The metric counted on impostor pairs (non-mated searches): fmr, or fpir for search logs."""
        return "fpir" if self.search else "fmr"

    @property
    def false_negative(self) -> str:
        """The metric counted on genuine pairs (mated searches): fnmr, or fnir for search logs."""
        return "fnir" if self.search else "fnmr"

    @property
    def clustered(self) -> bool:
        return self.subject_a is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        data = asdict(self)
        data["thresholds"] = list(self.thresholds)
        data["target_fmrs"] = list(self.target_fmrs)
        data["release_register"] = None if self.release_register is None else str(self.release_register)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiometricSpec:
        """Rebuild a spec from `to_dict` output (or a hand-written JSON settings file)."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            named = ", ".join(literal(shown(key)) for key in unknown)
            raise InputError(f"unknown biometric-audit setting(s): {named}")
        values = dict(data)
        for key in ("thresholds", "target_fmrs"):
            given = values.get(key) or ()
            # a string would be read character by character ("12" as 1 and 2), true as 1
            if not isinstance(given, list | tuple) or any(isinstance(v, bool | str) for v in given):
                raise InputError(f"setting {key} must be a list of numbers")
            try:
                values[key] = tuple(float(v) for v in given)
            except (TypeError, ValueError):
                raise InputError(f"setting {key} must be a list of numbers") from None
        register = values.get("release_register")
        if register is not None and (not isinstance(register, str) or not register.strip()):
            # a number or a list is no path; an empty one would name the working folder
            raise InputError(
                f"setting release_register must be a file path (text), got {literal(shown(register))}"
            )
        values["release_register"] = None if register is None else Path(register)
        try:
            return cls(**values)
        except TypeError as problem:
            raise InputError(f"biometric-audit settings are incomplete: {problem}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)
