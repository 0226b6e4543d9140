"""Data-value fuzzer: 280 generated decision logs whose group (and sometimes flag) values are hostile.

Values mix rich markup (`[/x]`, `[bold]`, `[link=...]`), ESC sequences (CSI cursor moves, OSC 52
clipboard writes, OSC 8 links), C1 controls, bidi overrides, NUL, CR/LF, lone surrogates (as CESU bytes,
which no UTF-8 reader accepts) and very long values, in CSV and Parquet files. Each runs through
`misflag decisions audit` in-process, as table, long, or CSV/JSON to a terminal. The property: exit 0 or 2,
never an internal error or traceback, and not one raw control, ESC, bidi or surrogate character in stdout
or stderr; with exit 0 every short group value is shown (as its placeholder text) in the long table.

The file count is sized by what it must reach, not by habit: every one of the 124 (atom, output
format) pairs must occur in at least 9 files (asserted below), so a defect that one atom triggers in
one format is never missed, and one it triggers a third of the time is missed with probability
(2/3)^9 < 0.03 at worst. Atoms are dealt from a shuffled deck per format (every atom equally often)
rather than drawn independently: independent draws needed 400 files for that floor (rarest pair 9,
mean 17.5), the deck reaches it with 280 (rarest pair 9, mean 13.8). Long values (24 files, 45 before)
and lone surrogates (7 files, 4 before) occur too.
"""

from __future__ import annotations

import contextlib
import csv
import io
import random
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from misflag._text import printable
from misflag.cli import main

FILES = 280
OUTPUTS = ("table", "long", "csv", "json")
#: Least number of files in which each (atom, output format) pair must occur.
PAIR_FLOOR = 9
SEED = 20261206
#: What must never reach a terminal: every C0 control but the line feed, DEL, C1, bidi, separators, surrogates.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
ATOMS = [
    "[/x]",
    "[bold]",
    "[/]",
    "[red]loud",
    "[link=https://evil.example]click[/link]",
    "[@click=app.quit]",
    "\\[escaped]",
    ":warning:",
    "\x1b[2J\x1b[H",
    "\x1b[1A\x1b[2K",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\x9b31m",
    "\x9d52;c;ZXZpbA==\x9c",
    "\x07",
    "\x08\x08\x08",
    "\r",
    "\r\n",
    "\x7f",
    "\x00",
    "\x85",
    "\u202e",
    "\u2066",
    "\u200f",
    "\u061c",
    "\u2028",
    "{flag}",
    "%s%n",
    "=cmd|' /C calc'!A0",
    "Ωmega",
    "plain",
]


class _Deck:
    """Atoms dealt from a shuffled deck, shuffled again when it runs out: within one output format every
    atom comes up equally often (i.i.d. draws leave the rarest pairs far below the mean)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cards: list[str] = []

    def deal(self) -> str:
        if not self.cards:
            self.cards = self.rng.sample(ATOMS, len(ATOMS))
        return self.cards.pop()


def _value(rng: random.Random, deck: _Deck) -> str:
    """A group value: one to three hostile atoms around ordinary text, sometimes very long."""
    parts = [deck.deal() for _ in range(rng.randint(1, 3))]
    parts.insert(rng.randint(0, len(parts)), rng.choice(["a", "north", "B-2", ""]))
    text = "".join(parts)
    if rng.random() < 0.03:
        text = rng.choice(["A", "[", "\x1b[1A", "ab "]) * rng.choice([500, 3000])
    return text


def _write_log(rng: random.Random, deck: _Deck, folder: Path, index: int) -> tuple[Path, list[str]]:
    """A small decision log with hostile group values, as CSV (sometimes with bad bytes) or Parquet."""
    groups = list(dict.fromkeys(_value(rng, deck) for _ in range(rng.randint(2, 4))))
    rows = [
        (groups[i % len(groups)], i % 2, (i // 2) % 2) for i in range(8 * len(groups))
    ]  # every group has flagged and unflagged people of both truths
    flags: list[object] = [flag for _, flag, _ in rows]
    if rng.random() < 0.05:  # a hostile value where a 0/1 flag belongs: refused, and echoed in the error
        flags[rng.randrange(len(flags))] = _value(rng, deck)
    if rng.random() < 0.3:
        path = folder / f"log{index}.parquet"
        table = pa.table(
            {
                "g": [g for g, _, _ in rows],
                "flag": [str(f) for f in flags],
                "truth": [t for _, _, t in rows],
            }
        )
        pq.write_table(table, path)
        return path, groups
    path = folder / f"log{index}.csv"
    text = io.StringIO(newline="")
    writer = csv.writer(text, quoting=rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    writer.writerow(["g", "flag", "truth"])
    writer.writerows((g, f, t) for (g, _, t), f in zip(rows, flags, strict=True))
    data = text.getvalue().encode("utf-8", "surrogatepass")
    if rng.random() < 0.03:  # a lone surrogate, as the bytes a careless writer leaves (invalid UTF-8)
        data = data.replace(b"a", b"a\xed\xa0\x80", 1)
    path.write_bytes(data)
    return path, groups


class _Terminal(io.StringIO):
    """stdout as a terminal: CSV and JSON printed to it get placeholders too."""

    def isatty(self) -> bool:
        return True


def _run(args: list[str], terminal: bool) -> tuple[int, str, str]:
    out: io.StringIO = _Terminal() if terminal else io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_hostile_data_files_print_as_text(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    decks = {output: _Deck(rng) for output in OUTPUTS}  # one a format: each format gets every atom alike
    verdicts: Counter[str] = Counter()
    defects: list[tuple[str, str, str]] = []
    shown = 0
    reached: Counter[tuple[str, str]] = Counter()
    for index in range(FILES):
        output = OUTPUTS[index % 4]
        path, groups = _write_log(rng, decks[output], tmp_path, index)
        reached.update((atom, output) for atom in ATOMS if any(atom in g for g in groups))
        args = ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", "--group", "g"]
        args += ["--min-cell", "1", "--replicates", "100", "--format", output]
        if rng.random() < 0.1:
            args += ["--reference", rng.choice(groups)]
        code, out, err = _run(args, terminal=output in {"csv", "json"})
        verdicts[f"{output} exit {code}"] += 1
        raw = RAW_CONTROL.search(out + err)
        if code not in {0, 2} or "internal error" in err or "Traceback" in out + err:
            defects.append((path.name, f"exit {code}", err[-300:]))
        elif raw is not None:
            defects.append((path.name, f"raw {raw.group()!r} in the output", (out + err)[:300]))
        elif code == 2 and len(err.strip().splitlines()) != 1:
            defects.append((path.name, "refusal not one line", err[:300]))
        elif code == 0 and output == "long":
            missing = [g for g in groups if len(g) < 100 and printable(g).strip() not in out]
            if missing:
                defects.append((path.name, "group value not shown", repr(missing)[:300]))
            shown += 1
        path.unlink()
    assert not defects, defects[:5]
    # Every hostile atom reached every output format, often enough (the sizing in the docstring).
    rarest = min((reached[atom, output], atom, output) for atom in ATOMS for output in OUTPUTS)
    assert rarest[0] >= PAIR_FLOOR, rarest
    # Both ends are reached: most files audit and print; some are refused in one line.
    assert sum(n for v, n in verdicts.items() if v.endswith("exit 0")) >= 0.7 * FILES, verdicts
    assert sum(n for v, n in verdicts.items() if v.endswith("exit 2")) >= 0.02 * FILES, verdicts
    assert shown >= 0.15 * FILES, verdicts
