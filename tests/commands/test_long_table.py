"""`--format long`'s table, drawn as one rich row of multi-line cells, reads exactly as a row per result row.

The reference is rich's own Table with one `add_row` per result row (the slow form, 8 cells rendered per
row), built here from the rows; the two must agree byte for byte, styles included.
"""

from __future__ import annotations

import io
import random

import pytest
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from misflag._text import printable
from misflag.commands._output import render_table
from misflag.result import AuditResult, format_number, make_row, rows_to_table

HEADERS = ("attribute", "group", "stage", "metric", "value", "95% CI", "denominator", "note")


def _result(seed: int) -> AuditResult:
    """Rows with wide (CJK) and control characters, empty and long notes, suppressed and undefined values."""
    pick = random.Random(seed)
    words = ["a", "Black & F", "\u4e2d\u6587 group", "x\x1b[31mred", "", "vs White & M & 25-45", "[bold]x[/]"]
    rows = []
    for _ in range(pick.randint(1, 40)):
        value = pick.choice([None, pick.random()])
        rows.append(
            make_row(
                pick.choice(["race", "race & sex"]),
                pick.choice(words) or "g",
                pick.choice(["all", "decision"]),
                pick.choice(["fpr", "n", "fpr_ratio"]),
                value,
                ci_low=None if value is None else value / 2,
                ci_high=None if value is None else value * 2,
                denominator=pick.choice([None, pick.randint(0, 10**6)]),
                suppressed=pick.random() < 0.2,
                warning=pick.choice(words) or None,
            )
        )
    return AuditResult(kind="decisions", table=rows_to_table(rows), metadata={})


def _row_by_row(result: AuditResult, console: Console) -> None:
    """The reference: one rich row per result row, at the width rich itself measures for the table."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for name in HEADERS:
        table.add_column(name, no_wrap=True)
    for row in result.rows():
        metric = row["metric"]
        value, interval = "suppressed", ""
        if not row["suppressed"]:
            value = format_number(row["value"], metric)
            if row["ci_low"] is not None and row["ci_high"] is not None:
                interval = f"{format_number(row['ci_low'], metric)} – {format_number(row['ci_high'], metric)}"
        denominator = "" if row["denominator"] is None else f"{row['denominator']:,.0f}"
        cells = (row["attribute"], row["group"], row["stage"], metric, value, interval, denominator)
        table.add_row(*(Text(printable(cell)) for cell in (*cells, row["warning"] or "")))
    Console(file=console.file, width=1000, highlight=False, no_color=console.no_color).print(table)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("terminal", [False, True])
def test_long_table_reads_as_one_rich_row_per_result_row(seed: int, terminal: bool) -> None:
    result = _result(seed)
    outputs = []
    for draw in (render_table, _row_by_row):
        buffer = io.StringIO()
        console = Console(
            file=buffer,
            width=80,
            highlight=False,
            force_terminal=terminal,
            color_system="truecolor" if terminal else None,
        )
        draw(result, console)
        outputs.append(buffer.getvalue())
    ours, reference = outputs
    assert [line.rstrip() for line in ours.splitlines()] == [line.rstrip() for line in reference.splitlines()]
    assert ours == reference
