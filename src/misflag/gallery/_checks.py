"""A published figure set beside misflag's recomputation of it, and whether it follows to the printed digit."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from importlib.resources import files
from typing import Any


@dataclass(frozen=True)
class Check:
    """One published figure and what misflag makes of it.

    `possible` is the range the recomputation can take given the rounding of the figures it is made
    from (a single value when it comes from exact counts); the published figure follows when, rounded
    to the printed digit, some value in that range prints as it does. `interval` is misflag's 95%
    interval where the figure rests on counts of people, None where it rests on rounded percentages.
    """

    figure: str
    printed: str | None  # as the source prints it; None: the source does not publish it
    value: float  # misflag's figure, in the printed unit
    possible: tuple[float, float]
    denominator: str
    interval: tuple[float, float] | None = None
    note: str = ""

    @property
    def digits(self) -> int:
        if self.printed is None:
            return 2
        return len(self.printed.split(".")[1]) if "." in self.printed else 0

    @property
    def follows(self) -> bool | None:
        """Whether the printed figure follows from its own table (None when nothing is printed)."""
        if self.printed is None:
            return None
        low, high = (_rounded(limit, self.digits) for limit in self.possible)
        return low <= float(self.printed) <= high

    def cells(self) -> list[str]:
        """The check as text cells: figure, printed, misflag, 95% interval, denominator, verdict."""
        verdict = {None: "not published", True: "follows", False: "does NOT follow"}[self.follows]
        shown = self.digits + 2
        if self.interval is not None:
            interval = f"{self.interval[0]:.{shown}f}–{self.interval[1]:.{shown}f}"
        elif self.possible[0] != self.possible[1]:
            interval = f"rounding: {self.possible[0]:.{shown}f}–{self.possible[1]:.{shown}f}"
        else:
            interval = ""
        return [
            self.figure,
            self.printed or "—",
            f"{self.value:.{shown}f}",
            interval,
            self.denominator,
            verdict + (f" ({self.note})" if self.note else ""),
        ]


def _rounded(value: float, digits: int) -> float:
    """Round half up at the printed digit (the way tables are printed), free of binary fractions."""
    scale = 10**digits
    return math.floor(value * scale + 0.5 + 1e-9) / scale


def published(name: str) -> list[dict[str, Any]]:
    """The rows of a shipped table of published figures (misflag/gallery/data/NAME.csv)."""
    text = (files("misflag.gallery") / "data" / f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def render(checks: list[Check], sources: list[str]) -> str:
    """The checks as a plain text table, then the sources (for `python -m misflag.gallery NAME`)."""
    header = ["figure", "printed", "misflag", "95% interval", "denominator", "verdict"]
    table = [header, *(check.cells() for check in checks)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in table
    ]
    return "\n".join([*lines, "", "Sources:", *(f"- {source}" for source in sources)])
