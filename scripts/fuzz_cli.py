"""Fuzz `misflag decisions audit`: generated expressions, options, settings JSON and paths, run in-process.

Every input must end in exit 0 or in one line and exit 2. Counted as defects: internal errors (exit 1 or
"internal error"), tracebacks, warnings printed, errors longer than one line or than 1,000 characters,
exceptions escaping `misflag.cli.main`, and a raw control, ESC, bidi or surrogate character printed (the
inputs include a log whose group values are rich markup and terminal escapes, and expressions echo odd
Unicode). Prints the counts; exits 1 if any defect was found.

    python scripts/fuzz_cli.py [--count 10000] [--seed 0] [--show 20]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import random
import re
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

COLUMNS = {
    "int": ["id", "age", "score", "flag", "truth"],
    "float": ["w"],
    "str": ["grp", "full_name"],
    "date": ["d"],
}
OPTIONS = ["--flag", "--truth", "--group", "--where", "--score", "--weight", "--stage", "--group"]
HOSTILE = [
    "read_text('/etc/passwd')",
    "(SELECT 1)",
    "COLUMNS('full_.*')",
    "*",
    "getenv('HOME')",
    "reflect('java.lang.Runtime', 'getRuntime')",
    "x -> x",
    "[1, 2]",
    "{'a': 1}",
    'CAST(flag AS "int")',
    "CAST(flag AS VOID)",
    "flag; COPY (SELECT 1) TO '/tmp/misflag-fuzz-written'",
    "flag /* c */",
    "flag -- c",
    "repeat('a', 100000000)",
    "regexp_matches(grp, '(a+)+$')",
    "sum(flag)",
    "row_number() OVER ()",
    "$1",
    "flag\u200b",
    "r\u0435ad_text('x')",
    "1e400",
    "-1e400",
    "9223372036854775807 + 1",
    "CAST('x' AS INTEGER)",
    "CAST(grp AS DATE)",
    "flag / 0",
    "age % 0",
    "1 / 0",
    "ln(0)",
    "sqrt(-1)",
    "power(10, 400)",
    "exp(1000)",
    "date_trunc('epoch', d)",
    "lower(a := 1)",
    "'\u0000'",
]
SETTINGS_KEYS = [
    "truth",
    "flag",
    "groups",
    "stages",
    "where",
    "score",
    "weight",
    "reference",
    "threshold",
    "target_fpr",
    "seed",
    "replicates",
    "min_cell",
    "intersect",
    "engine",
]
ODD_VALUES: list[object] = [
    "x",
    "",
    1.5,
    -1,
    0,
    10**30,
    1e308,
    float("inf"),
    None,
    True,
    [1, 2],
    [],
    {},
    {"a": 1},
    ["flag", 3],
    [["a", "b"]],
    "flag",
    "truth",
    "grp",
]


#: Group values that are markup or terminal control (issue 20): they must print as text.
DATA_VALUES = [
    "[/x]",
    "[bold]b",
    "[link=https://evil.example]c[/link]",
    "\x1b[2J\x1b[Hd",
    "\x1b]52;c;ZXZpbA==\x07e",
    "\x9b31mf",
    "\u202eg",
    "h\x00i",
    "j\r\nk",
]
#: What must never be printed raw: C0 controls but the line feed, DEL, C1, bidi, separators, surrogates.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def write_inputs(folder: Path) -> dict[str, Path]:
    """A small decision log, one whose group values are hostile, plus bad files of several kinds."""
    rows = [
        f"{i},{18 + i % 60},{i % 10},{int(i % 3 == 0)},{int(i % 4 == 0)},{1 + (i % 3) / 2},"
        f"{'ab'[i % 2]},name {i},2020-{1 + i % 12:02d}-{1 + i % 28:02d}"
        for i in range(80)
    ]
    log = folder / "log.csv"
    log.write_text("id,age,score,flag,truth,w,grp,full_name,d\n" + "\n".join(rows) + "\n", encoding="utf-8")
    files = {"log": log}
    hostile = folder / "values.csv"
    with hostile.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "age", "score", "flag", "truth", "w", "grp", "full_name", "d"])
        for i in range(90):
            group = DATA_VALUES[i % len(DATA_VALUES)]
            writer.writerow([i, 30, i % 10, i % 2, (i // 2) % 2, 1, group, group, "2020-01-01"])
    files["values"] = hostile
    (folder / "empty.csv").write_bytes(b"")
    files["empty"] = folder / "empty.csv"
    (folder / "header.csv").write_text("flag,truth\n", encoding="utf-8")
    files["header"] = folder / "header.csv"
    (folder / "binary.csv").write_bytes(bytes(range(256)) * 4)
    files["binary"] = folder / "binary.csv"
    (folder / "latin1.csv").write_bytes("flag,truth,grp\n1,0,S\xe3o\n".encode("latin-1"))
    files["latin1"] = folder / "latin1.csv"
    quoted = folder / 'it\'s "quoted".csv'
    quoted.write_text(log.read_text(encoding="utf-8"), encoding="utf-8")
    files["quoted"] = quoted
    (folder / "fake.parquet").write_bytes(b"PAR1 not parquet")
    files["fake_parquet"] = folder / "fake.parquet"
    files["folder"] = folder
    files["missing"] = folder / "missing.csv"
    return files


def number_expression(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.35:
        return rng.choice([*COLUMNS["int"], *COLUMNS["float"], str(rng.randint(-5, 100)), "0.5"])
    left, right = number_expression(rng, depth + 1), number_expression(rng, depth + 1)
    return rng.choice(
        [
            f"{left} + {right}",
            f"{left} - {right}",
            f"{left} * {right}",
            f"{left} / {right}",
            f"abs({left})",
            f"round({left}, {rng.randint(-2, 3)})",
            f"greatest({left}, {right})",
            f"coalesce({left}, {right})",
            f"CASE WHEN {bool_expression(rng, depth + 1)} THEN {left} ELSE {right} END",
            f"CAST({left} AS INTEGER)",
            f"nullif({left}, {right})",
        ]
    )


def bool_expression(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.4:
        column = rng.choice(COLUMNS["int"])
        return rng.choice(
            [
                f"{column} > {rng.randint(0, 60)}",
                f"{column} IN ({rng.randint(0, 3)}, {rng.randint(0, 3)})",
                f"{column} BETWEEN {rng.randint(0, 30)} AND {rng.randint(20, 80)}",
                f"grp LIKE '{rng.choice(['a', 'b', '%', '_'])}%'",
                f"full_name ILIKE '%{rng.randint(0, 9)}'",
                "d >= DATE '2020-06-01'",
                f"year(d) = {rng.choice([2019, 2020])}",
                "grp IS NULL",
                column,
            ]
        )
    left, right = bool_expression(rng, depth + 1), bool_expression(rng, depth + 1)
    return rng.choice([f"{left} AND {right}", f"{left} OR {right}", f"NOT ({left})", f"({left})"])


def group_expression(rng: random.Random) -> str:
    return rng.choice(
        [
            "grp",
            "age_band",
            "CASE WHEN age < 25 THEN 'young' WHEN age < 45 THEN 'middle' ELSE 'old' END",
            "lower(grp)",
            "substr(full_name, 1, 6)",
            "year(d)",
            "month(d)",
            "date_part('quarter', d)",
            "grp || '-' || CAST(score AS VARCHAR)",
            "concat(grp, score)",
            number_expression(rng),
            bool_expression(rng),
        ]
    )


def mutate(rng: random.Random, text: str) -> str:
    """Insert, delete or replace a few characters, sometimes with SQL punctuation or odd Unicode."""
    chars = list(text)
    alphabet = "()'\";,.:*/-+=<>!|&^%$#@[]{}\\ \t\n0123456789abcxyzASCNOTL\u00a0\u200b\u202e\uff08\u037e"
    for _ in range(rng.randint(1, 4)):
        position = rng.randint(0, len(chars))
        action = rng.random()
        if action < 0.4 or not chars:
            chars.insert(position, rng.choice(alphabet))
        elif action < 0.7:
            del chars[min(position, len(chars) - 1)]
        else:
            chars[min(position, len(chars) - 1)] = rng.choice(alphabet)
    return "".join(chars)


def expression(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return group_expression(rng)
    if kind < 0.45:
        return bool_expression(rng)
    if kind < 0.6:
        return rng.choice(HOSTILE)
    if kind < 0.85:
        return mutate(rng, rng.choice([group_expression(rng), bool_expression(rng), rng.choice(HOSTILE)]))
    if kind < 0.92:
        return "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 30)))
    depth = rng.choice([10, 70, 200, 600])
    return rng.choice(
        ["(" * depth + "flag" + ")" * depth, "NOT " * depth + "flag", "+".join(["age"] * depth)]
    )


def option_value(rng: random.Random) -> list[str]:
    """One non-expression option with a value from the edges of its domain."""
    numbers = ["0", "-1", "1", "100", "99", "1e400", "nan", "inf", "-inf", "1.5", "x", "", "9" * 30, "0.05"]
    option = rng.choice(
        [
            "--seed",
            "--replicates",
            "--min-cell",
            "--threshold",
            "--target-fpr",
            "--reference",
            "--format",
            "--table",
        ]
    )
    if option == "--format":
        return [option, rng.choice(["table", "long", "csv", "json", "xml", ""])]
    if option == "--reference":
        return [option, rng.choice(["a", "grp=a", "zz", "=", "grp=", "'", ""])]
    if option == "--table":
        return [option, rng.choice(["decisions", "x'; DROP TABLE y; --", "a.b.c", ""])]
    return [option, rng.choice(numbers)]


def settings_file(rng: random.Random, folder: Path, index: int) -> list[str]:
    """A --settings JSON file: valid keys with odd values, odd keys, bad JSON, nesting."""
    path = folder / f"settings-{index % 50}.json"
    kind = rng.random()
    if kind < 0.1:
        path.write_text(rng.choice(["{", "[]", "null", "1", '"x"', "{'a': 1}", "[" * 5000 + "]" * 5000]))
    else:
        data: dict[str, object] = {}
        for key in rng.sample(SETTINGS_KEYS, rng.randint(1, 5)):
            data[key] = rng.choice([*ODD_VALUES, expression(rng)])
        if rng.random() < 0.5:
            data.setdefault("truth", "truth")
            data.setdefault("flag", "flag")
        if rng.random() < 0.1:
            data["unknown_key"] = 1
        path.write_text(json.dumps(data, allow_nan=True))
    return ["--settings", str(path)]


def output_option(rng: random.Random, folder: Path, files: dict[str, Path]) -> list[str]:
    option = rng.choice(["--save", "--report"])
    target = rng.choice(
        [
            folder / "missing-folder" / "out.json",
            folder,
            folder / "out.json",
            folder / 'it\'s "quoted".html',
            files["log"] / "x.json",
            Path("/proc/version"),
        ]
    )
    return [option, str(target)]


def generate(rng: random.Random, folder: Path, files: dict[str, Path], index: int) -> list[str]:
    """One command line for `misflag decisions audit`."""
    draw = rng.random()
    source = (
        files["log"] if draw < 0.75 else files["values"] if draw < 0.85 else files[rng.choice(sorted(files))]
    )
    args = ["decisions", "audit", str(source), "--replicates", "100"]
    base = {"--flag": "flag", "--truth": "truth"}
    target = rng.choice(OPTIONS)
    text = expression(rng)
    if target == "--stage":
        args += ["--stage", f"{rng.choice(['screen', 'review', '', '='])}={text}", "--truth", "truth"]
    else:
        base[target] = text
        args += [item for pair in base.items() for item in pair]
    if rng.random() < 0.3:
        args += option_value(rng)
    if rng.random() < 0.15:
        args += settings_file(rng, folder, index)
    if rng.random() < 0.05:
        args += output_option(rng, folder, files)
    if rng.random() < 0.1:
        args += ["--group", group_expression(rng)]
    if rng.random() < 0.05:
        args += ["--intersect", "--group", "grp", "--group", "year(d)"]
    return args


def run_one(main: Callable[[list[str]], int], args: list[str]) -> tuple[str, str]:
    """(verdict, detail): ok, refused, or a defect kind."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("default")
            code = main(args)
    except BaseException as escaped:
        return "escaped exception", f"{type(escaped).__name__}: {escaped}"[:300]
    text = err.getvalue()
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if code == 1 or "internal error" in text:
        return "internal error", text.strip()[:300]
    if "Traceback" in text or "Traceback" in out.getvalue():
        return "traceback", text.strip()[-300:]
    if "Warning" in text:
        return "warning printed", text.strip()[:300]
    formats = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--format"]
    exact = formats and formats[-1] in {"csv", "json"}  # into a pipe: the exact data, by design
    raw = RAW_CONTROL.search(text + ("" if exact else out.getvalue()))
    if raw is not None:
        return "control character printed", f"{raw.group()!r} in {text.strip()[:200]!r}"
    if code == 0:
        return "ok", ""
    if code == 2:
        if len(lines) != 1:
            return "error not one line", text.strip()[:300]
        if len(lines[0]) > 1000:
            return "error line too long", f"{len(lines[0]):,} characters"
        return "refused", ""
    return f"exit {code}", text.strip()[:300]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=20, help="print this many defects in full")
    options = parser.parse_args()
    from misflag.cli import main as cli_main

    rng = random.Random(options.seed)
    verdicts: Counter[str] = Counter()
    defects: list[tuple[str, list[str], str]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        files = write_inputs(folder)
        for index in range(options.count):
            args = generate(rng, folder, files, index)
            verdict, detail = run_one(cli_main, args)
            verdicts[verdict] += 1
            if verdict not in {"ok", "refused"}:
                defects.append((verdict, args, detail))
                if len(defects) <= options.show:
                    print(f"[{verdict}] {repr(args)[:400]}\n    {detail}", flush=True)
            if (index + 1) % 1000 == 0:
                print(f"{index + 1:,} inputs, {len(defects)} defects", file=sys.stderr)
    seconds = time.perf_counter() - start
    internal = verdicts["internal error"] + verdicts["escaped exception"] + verdicts["traceback"]
    print(f"inputs: {options.count:,} (seed {options.seed}) in {seconds:.0f} s")
    print("verdicts: " + ", ".join(f"{name} {count:,}" for name, count in verdicts.most_common()))
    print(f"internal errors: {internal}")
    print(f"other defects: {len(defects) - internal}")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
