"""A synthetic US population with realistic duplicate errors and ground-truth cluster ids, for any size.

People are drawn with the linkage-risk population model (`PopulationModel.sample`): names from the census
tables (surnames 2010, first names 2020) by group, including the rare-name remainder, and dates of birth
from its US-adult birth-year model. A share of records are
duplicates of drawn people, each with one error drawn from: typing errors (substitution, deletion or
transposition of one letter), nicknames (a small documented table, English and Spanish), day/month swaps,
missing first name or date of birth, dropped or reordered parts of compound and hyphenated surnames
(about a third of Hispanic people carry paternal + maternal surnames), and transliteration variants.
Everything is vectorised (numpy code-point arrays, pyarrow compute): no per-record Python loop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from misflag.errors import InputError
from misflag.linkage._clerical import check_seed
from misflag.linkage._population import PopulationModel
from misflag.progress import Progress, no_progress

#: Group shares of the US population (2020 census, rounded); the census tables' group columns.
GROUP_MIX: dict[str, float] = {
    "white": 0.58,
    "hispanic": 0.19,
    "black": 0.12,
    "api": 0.06,
    "2prace": 0.04,
    "aian": 0.01,
}
#: Error types given to duplicates, with their shares.
ERRORS: dict[str, float] = {
    "typo": 0.30,
    "nickname": 0.12,
    "day_month_swap": 0.10,
    "missing_field": 0.10,
    "surname_parts": 0.23,
    "transliteration": 0.15,
}
SYNTHETIC_STEPS: tuple[str, ...] = ("draw people", "draw duplicates", "apply errors")
#: Nicknames (formal name -> common short form), English and Spanish; documented in docs/linkage-audit.md.
NICKNAMES: dict[str, str] = {
    "WILLIAM": "BILL",
    "ROBERT": "BOB",
    "RICHARD": "DICK",
    "JAMES": "JIM",
    "JOHN": "JACK",
    "MICHAEL": "MIKE",
    "JOSEPH": "JOE",
    "THOMAS": "TOM",
    "CHARLES": "CHUCK",
    "DANIEL": "DAN",
    "MATTHEW": "MATT",
    "ANTHONY": "TONY",
    "CHRISTOPHER": "CHRIS",
    "ELIZABETH": "LIZ",
    "MARGARET": "PEGGY",
    "PATRICIA": "PAT",
    "JENNIFER": "JEN",
    "KATHERINE": "KATE",
    "SUSAN": "SUE",
    "DEBORAH": "DEBBIE",
    "REBECCA": "BECKY",
    "JOSE": "PEPE",
    "FRANCISCO": "PANCHO",
    "GUADALUPE": "LUPE",
    "ALEJANDRO": "ALEX",
    "EDUARDO": "LALO",
    "ENRIQUE": "QUIQUE",
    "IGNACIO": "NACHO",
    "ROSARIO": "CHAYO",
    "CONCEPCION": "CONCHA",
    "DOLORES": "LOLA",
    "JESUS": "CHUY",
    "MARIA": "MARY",
    "ROBERTO": "BETO",
    "ALBERTO": "BETO",
    "GUILLERMO": "MEMO",
}
#: Transliteration variants (pattern -> replacement), applied to the first match in the surname.
TRANSLITERATIONS: tuple[tuple[str, str], ...] = (
    ("MOHAMMED", "MUHAMMAD"),
    ("KH", "H"),
    ("OU", "U"),
    ("Y", "I"),
    ("PH", "F"),
    ("TS", "Z"),
    ("IE", "I"),
    ("SCH", "SH"),
    ("W", "V"),
    ("J", "Y"),
    ("Z", "S"),
    ("Q", "K"),
)
_WIDTH = 40
_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8).astype(np.uint32)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strings as a (n, width) uint32 code-point matrix and their lengths."""
    fixed = np.asarray(values, dtype=f"U{_WIDTH}")
    return fixed.view(np.uint32).reshape(-1, _WIDTH).copy(), np.char.str_len(fixed)


def _strings(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes).view(f"U{_WIDTH}").ravel().astype(object)


def typo(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One substitution, deletion or transposition per string, at a random position."""
    codes, length = _codes(values)
    rows = np.arange(codes.shape[0])
    pos = (rng.random(rows.size) * np.maximum(length, 1)).astype(int)
    kind = rng.integers(0, 3, rows.size)
    sub = (kind == 0) & (length > 0)
    codes[rows[sub], pos[sub]] = _ALPHABET[rng.integers(0, 26, sub.sum())]
    delete = (kind == 1) & (length > 1)
    column = np.arange(_WIDTH)[None, :]
    gather = np.where(column >= pos[:, None], np.minimum(column + 1, _WIDTH - 1), column)
    deleted = np.take_along_axis(codes, gather, axis=1)
    deleted[:, -1] = 0
    codes[delete] = deleted[delete]
    swap = (kind == 2) & (length > 1)
    left = np.minimum(pos, np.maximum(length - 2, 0))
    a, b = codes[rows, left].copy(), codes[rows, left + 1].copy()
    codes[rows[swap], left[swap]], codes[rows[swap], left[swap] + 1] = b[swap], a[swap]
    return _strings(codes)


def synthetic_records(
    size: int,
    *,
    seed: int = 0,
    duplicate_rate: float = 0.2,
    group_mix: dict[str, float] | None = None,
    model: PopulationModel | None = None,
    progress: Progress | None = None,
) -> pa.Table:
    """`size` records: record_id, person_id (ground truth), group, first_name, last_name, dob, error."""
    if size < 2:
        raise InputError(f"{{size}} must be at least 2, got {size}")
    check_seed(seed)
    if not 0.0 <= duplicate_rate < 1.0:
        raise InputError(f"{{duplicate_rate}} must be in [0, 1), got {duplicate_rate}")
    mix = group_mix or GROUP_MIX
    unknown = set(mix) - set(GROUP_MIX)
    if unknown:
        raise InputError(f"unknown group(s) {sorted(unknown)}; choose from {sorted(GROUP_MIX)}")
    say = progress or no_progress
    rng = np.random.default_rng(seed)
    say("draw people", 0.0)
    people = size - round(size * duplicate_rate)
    model = model or PopulationModel.from_census()
    base = model.sample(people, seed, mix)
    group = np.asarray(base["group"].to_pylist(), dtype=object)
    first = np.asarray(base["first_name"].to_pylist(), dtype=object)
    last = np.asarray(base["last_name"].to_pylist(), dtype=object)
    born = base["dob"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
    compound = (group == "hispanic") & (rng.random(people) < 0.33)
    joiner = np.where(rng.random(people) < 0.5, " ", "-")
    second = model.sample(int(compound.sum()), seed + 1, {"hispanic": 1.0})["last_name"].to_pylist()
    last[compound] = last[compound] + joiner[compound] + np.asarray(second, dtype=object)
    say("draw duplicates", 1 / 3)
    source = np.concatenate([np.arange(people), rng.integers(0, people, size - people)])
    is_dup = np.arange(size) >= people
    record = {
        "group": group[source],
        "first_name": first[source].copy(),
        "last_name": last[source].copy(),
        "dob": born[source].copy(),
    }
    say("apply errors", 2 / 3)
    error = np.where(is_dup, rng.choice(list(ERRORS), size=size, p=list(ERRORS.values())), "original").astype(
        object
    )
    _apply_errors(record, error, rng)
    return pa.table(
        {
            "record_id": pa.array(rng.permutation(size).astype(np.int64)),
            "person_id": pa.array(source.astype(np.int64)),
            "group": pa.array(record["group"].tolist(), pa.string()),
            "first_name": pa.array(record["first_name"].tolist(), pa.string()),
            "last_name": pa.array(record["last_name"].tolist(), pa.string()),
            "dob": pc.cast(pa.array(record["dob"]), pa.string()),
            "error": pa.array(error.tolist(), pa.string()),
        }
    )


def _apply_errors(record: dict[str, np.ndarray], error: np.ndarray, rng: np.random.Generator) -> None:
    """Mutate the duplicate rows in place, one error type per row."""
    n = error.size
    last = pa.array(record["last_name"].tolist(), pa.string())
    compound = np.asarray(pc.match_substring_regex(last, "[ -]"), dtype=bool)
    # duplicates of people with compound surnames lose or reorder a part half the time
    error[(error != "original") & compound & (rng.random(n) < 0.5)] = "surname_parts"
    first = pa.array(record["first_name"].tolist(), pa.string())
    has_nick = np.asarray(pc.is_in(first, value_set=pa.array(list(NICKNAMES))), dtype=bool)
    dob = record["dob"]
    day = (dob - dob.astype("datetime64[M]")).astype(int) + 1
    month = (dob.astype("datetime64[M]") - dob.astype("datetime64[Y]")).astype(int) + 1
    matches = np.column_stack(
        [np.asarray(pc.match_substring(last, p), dtype=bool) for p, _ in TRANSLITERATIONS]
    )
    applicable = {
        "surname_parts": compound,
        "nickname": has_nick,
        "day_month_swap": (day <= 12) & (day != month),
        "transliteration": matches.any(axis=1),
    }
    for kind, possible in applicable.items():  # an error that cannot apply to a record becomes a typo
        error[(error == kind) & ~possible] = "typo"
    rows = error == "typo"
    on_first = rows & (rng.random(n) < 0.5)
    record["first_name"][on_first] = typo(record["first_name"][on_first], rng)
    record["last_name"][rows & ~on_first] = typo(record["last_name"][rows & ~on_first], rng)
    rows = error == "nickname"
    names = pa.array(record["first_name"][rows].tolist(), pa.string())
    position = pc.index_in(names, value_set=pa.array(list(NICKNAMES)))
    nick = pc.take(pa.array(list(NICKNAMES.values())), position)
    record["first_name"][rows] = np.asarray(pc.coalesce(nick, names).to_pylist(), dtype=object)
    rows = error == "day_month_swap"
    year = dob[rows].astype("datetime64[Y]").astype("datetime64[M]")
    dob[rows] = year + (day[rows] - 1) + (month[rows] - 1).astype("timedelta64[D]")
    rows = error == "missing_field"
    drop_dob = rows & (rng.random(n) < 0.5)
    record["dob"][drop_dob] = np.datetime64("NaT")
    record["first_name"][rows & ~drop_dob] = None
    rows = error == "surname_parts"
    record["last_name"][rows] = _surname_parts(record["last_name"][rows], rng)
    rows = error == "transliteration"
    names = pa.array(record["last_name"][rows].tolist(), pa.string())
    choice = np.argmax(matches[rows] * rng.random((int(rows.sum()), len(TRANSLITERATIONS))), axis=1)
    for index, (pattern, replacement) in enumerate(TRANSLITERATIONS):
        chosen = pa.array(choice == index)
        names = pc.if_else(
            chosen, pc.replace_substring(names, pattern, replacement, max_replacements=1), names
        )
    record["last_name"][rows] = np.asarray(names.to_pylist(), dtype=object)


def _surname_parts(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Compound surnames lose their second or first part, swap order, or switch space and hyphen."""
    names = pa.array(values.tolist(), pa.string())
    parts = pc.split_pattern_regex(names, "[ -]", max_splits=1)
    first, second = pc.list_element(parts, 0), pc.list_element(parts, 1)
    spaced = pc.match_substring(names, " ")
    kind = rng.integers(0, 4, len(names))
    same = np.asarray(pc.fill_null(pc.equal(first, second), False).to_pylist(), dtype=bool)
    kind = np.where(same & (kind == 2), 3, kind)  # swapping two equal parts would change nothing
    out = [
        first,
        second,
        pc.binary_join_element_wise(second, first, pc.if_else(spaced, " ", "-")),
        pc.binary_join_element_wise(first, second, pc.if_else(spaced, "-", " ")),
    ]
    result = out[0]
    for index in range(1, 4):
        result = pc.if_else(pa.array(kind == index), out[index], result)
    return np.asarray(result.to_pylist(), dtype=object)
