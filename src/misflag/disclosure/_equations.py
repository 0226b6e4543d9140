"""Every published figure of a universe's outputs as equations of the reader's model (`_model`), and
every withheld count as a target of the audit.

Each published figure adds equations: a group's n; a rate's denominator and (value x denominator)
numerator; a weighted rate, where the reader can work out the weights from the metadata (`_weights`), as
sum(w x numerator) = value x sum(w x denominator) over the audited people; an undefined rate's zero
denominator; a comparison's denominator; `rows_audited` and the input's row count. A listed group has at
least one person; a value no output of a population lists has no one there, nor does a combination of
group values the input does not hold, nor a label of a group that follows the truth or a flag beside
another value of it (`_census`, where the input is at hand). Counts are non-negative.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from misflag.disclosure._census import known_zeros
from misflag.disclosure._figures import FIGURES, base_metric, reads_as_counts
from misflag.disclosure._model import Model, Output, Source, Target, Universe
from misflag.result import ALL_STAGES, OVERALL_ATTRIBUTE, OVERALL_GROUP

#: One row's figure as the model reads it: (base metric, [numerator's, denominator's unknowns], whether
#: the intersection is absent, the unknowns of a listed group's n (at least one person) or None).
_Row = tuple[str, list[np.ndarray], bool, np.ndarray | None]


@dataclass(frozen=True)
class _Layout:
    """One output's figures as unknowns, whatever it withholds: per row its `_Row` (None: no counts of its
    own, or a stage the output does not have), the unknowns no listed value reaches (fixed at 0), and
    those of its population (for rows_audited)."""

    rows: list[_Row | None]
    zero: np.ndarray
    population: np.ndarray


#: Layouts of the outputs last read, by what decides them (`_shape`): a decision audit publishes the same
#: rows round after round of secondary suppression, only their values and what is withheld change, and
#: working the unknowns out again was most of each model's build (docs/disclosure.md, "Time").
_LAYOUTS: dict[tuple[object, ...], _Layout] = {}
_KEPT_LAYOUTS = 8
_LAYOUTS_LOCK = threading.Lock()


def build(universe: Universe, number: int) -> tuple[Model, list[Target]]:
    """Every published figure of the universe's outputs as equations; every withheld count as a target."""
    model = Model(universe.unknowns, zero=np.zeros(universe.unknowns, dtype=bool))
    targets: dict[bytes, Target] = {}
    for output in universe.outputs:
        layout = _layout(universe, output)
        weights = universe.unknown_weights(output) if output.weighted else None
        # (id of a denominator's columns, its value, its source) written: a figure's comparison rows (ratio,
        # difference) and rates counting the same people publish it again, which would change nothing;
        # ids name the layout's arrays, alive while it is read
        denominators: set[tuple[int, float, Source | None]] = set()
        for row, read in zip(output.rows, layout.rows, strict=True):
            if read is None:
                continue
            metric, parts, absent, listed = read
            if listed is not None:
                model.at_least(listed, 1.0)
            if row["suppressed"]:
                names = ("n",) if metric == "n" else ("numerator", "denominator")
                for part, columns in zip(names, parts[2 - len(names) :], strict=True):
                    name = columns.tobytes()
                    target = targets.get(name) or targets.setdefault(name, Target(number, columns))
                    target.rows.append(
                        (output.name, row["attribute"], row["group"], row["stage"], row["metric"], part)
                    )
                    both = _ratio_weights(parts, weights) if part == "numerator" else None
                    if both is not None and FIGURES[metric][2]:
                        key = (output.name, row["attribute"], row["group"], row["stage"], metric)
                        target.ratio_weights[key] = both
                continue
            _published(model, output, row, metric, parts, weights, absent, denominators)
        assert model.zero is not None
        model.zero[layout.zero] = True
        overall = (output.name, OVERALL_ATTRIBUTE, OVERALL_GROUP, "n")  # withheld with the overall n
        if output.rows_audited is not None:
            model.equal(layout.population, float(output.rows_audited), overall)
        if output.input_rows is not None:
            everything = universe.columns(np.ones(universe.cells, dtype=bool), np.arange(universe.truth.size))
            model.equal(everything, float(output.input_rows), overall)
    for census in {id(o.census): o.census for o in universe.outputs if o.census is not None}.values():
        empty = known_zeros(universe, census)  # what holds no one in the input, as a reader tells it
        if empty is not None:
            model.zero |= empty
    return model, list(targets.values())


def _shape(universe: Universe, output: Output) -> tuple[object, ...]:
    """Everything an output's layout depends on: the universe, the output's groups, stages, filter and
    labels, and each row's figure (not its value, nor whether it is withheld)."""
    rows = tuple(
        (
            row["attribute"],
            row["group"],
            row.get("stage"),
            row["metric"],
            (row.get("warning") or "").startswith("absent"),
        )
        for row in output.rows
    )
    keys = None if output.keys is None else tuple(output.keys.items())
    restriction = tuple(output.restriction.items())
    stages = tuple(output.stages.items())
    return universe.signature, output.groups, stages, restriction, output.missing_label, keys, rows


def _layout(universe: Universe, output: Output) -> _Layout:
    """The output's layout, worked out once for outputs of the same shape (`_LAYOUTS`)."""
    shape = _shape(universe, output)
    layout = _LAYOUTS.get(shape)
    if layout is None:
        layout = _read_layout(universe, output)
        with _LAYOUTS_LOCK:  # audits may run on several threads (the API)
            while len(_LAYOUTS) >= _KEPT_LAYOUTS:
                _LAYOUTS.pop(next(iter(_LAYOUTS)))
            _LAYOUTS[shape] = layout
    return layout


def _read_layout(universe: Universe, output: Output) -> _Layout:
    """Each row's unknowns (`_Layout`); the arrays are shared by every model built from it, never written."""
    members = output.members()
    population = universe.population(output)
    every = np.arange(universe.truth.size)
    every_key = every.tobytes()
    listed: dict[int, set[str | None]] = {}
    # many rows share a group's cells and a figure's states: each is worked out once per output (as
    # the positions of its cells, and of its states), and so is each (cells, states) pair's columns:
    # figures of one group that count the same states (fpr's and specificity's negatives) share them
    cells_of: dict[tuple[str, str | None], np.ndarray] = {}
    states_of: dict[tuple[str, str, int], tuple[bytes, np.ndarray]] = {}
    columns_of: dict[tuple[str, str | None, bytes], np.ndarray] = {}
    parts_of: dict[tuple[str, str | None, str, str], list[np.ndarray]] = {}  # a ratio shares its rate's
    rows: list[_Row | None] = []
    for row in output.rows:
        metric = base_metric(row["metric"])
        attribute, group = row["attribute"], row["group"]
        if metric is None or attribute not in members:
            rows.append(None)
            continue
        unit = (attribute, group)
        cells = cells_of.get(unit)
        if cells is None:
            position = members[attribute]
            key = output.key(attribute, group, position)
            for i, value in zip(position, key, strict=True):
                listed.setdefault(universe.attributes.index(output.groups[i]), set()).add(value)
            cells = cells_of[unit] = np.flatnonzero(universe.group(output, position, key))
        stage = row["stage"]
        if stage != ALL_STAGES and "->" not in stage and stage not in output.stages:
            rows.append(None)
            continue
        figure = (attribute, group, stage, metric)
        parts = parts_of.get(figure)
        if parts is None:
            parts = parts_of[figure] = []
            for p in (0, 1):
                states = states_of.get((stage, metric, p))
                if states is None:
                    found = np.flatnonzero(universe.states(output, stage, metric, p))
                    states = states_of[(stage, metric, p)] = (found.tobytes(), found)
                parts.append(_columns(columns_of, universe, unit, cells, states))
        absent = (row.get("warning") or "").startswith("absent")
        at_least = None
        if metric == "n" and not absent:
            at_least = _columns(columns_of, universe, unit, cells, (every_key, every))
        rows.append((metric, parts, absent, at_least))
    zero = np.zeros(universe.cells * every.size, dtype=bool)
    for a, values in listed.items():
        unlisted = ~np.isin(universe.coords[:, a], [universe.values[a].index(v) for v in values])
        zero[universe.columns(population & unlisted, every)] = True
    layout = _Layout(rows, np.flatnonzero(zero), universe.columns(population, every))
    for array in [*columns_of.values(), layout.zero, layout.population]:
        array.flags.writeable = False  # shared by every model and target built from this layout
    return layout


def _columns(
    known: dict[tuple[str, str | None, bytes], np.ndarray],
    universe: Universe,
    unit: tuple[str, str | None],
    cells: np.ndarray,
    states: tuple[bytes, np.ndarray],
) -> np.ndarray:
    """The unknowns of a group's cells in some states (given as (their bytes, their positions)), worked
    out once per pair; the arrays are shared, never written to."""
    key = (*unit, states[0])
    columns = known.get(key)
    if columns is None:
        columns = known[key] = (cells[:, None] * universe.truth.size + states[1][None, :]).ravel()
    return columns


def _ratio_weights(parts: list[np.ndarray], by_unknown: np.ndarray | None) -> tuple[float, float] | None:
    """(the numerator's one weight, the rest of the denominator's one weight), where each is one."""
    if by_unknown is None or np.isnan(by_unknown[parts[1]]).any():
        return None
    weights = by_unknown[parts[1]]
    inside = np.isin(parts[1], parts[0])
    mine, rest = np.unique(weights[inside]), np.unique(weights[~inside])
    if mine.size > 1 or rest.size > 1:
        return None
    one = float(mine[0]) if mine.size else float(rest[0]) if rest.size else 1.0
    return one, float(rest[0]) if rest.size else one


def _published(
    model: Model,
    output: Output,
    row: dict[str, Any],
    metric: str,
    parts: list[np.ndarray],
    weights: np.ndarray | None,
    absent: bool,
    denominators: set[tuple[int, float, Source | None]],
) -> None:
    """A published row's equations: its denominator (n for n), and its numerator where it is a count
    ratio; a weighted rate whose weights the reader knows (`weights`, by unknown) as an equation too.
    An absent intersection's zero (`absent`) is always published: no suppression removes it."""
    numerator, denominator = parts
    source = (
        None if absent else (output.name, row["attribute"], row["group"], "n" if metric == "n" else "detail")
    )
    if metric == "n":
        if row["value"] is not None:
            model.equal(denominator, float(row["value"]), source)
        return
    if row["denominator"] is None:
        return
    total = float(row["denominator"])
    if (id(denominator), total, source) not in denominators:
        denominators.add((id(denominator), total, source))
        model.equal(denominator, total, source)
    weighted = output.weighted and FIGURES[metric][2]
    if row["metric"] != metric or row["value"] is None or total == 0:
        return
    if weighted and weights is not None:
        w = weights[denominator]
        if (
            np.isnan(w).any() or np.ptp(w) > 0
        ):  # NaN: dropped unless those unknowns are fixed at 0  # sum(w x numerator) - value x sum(w x denominator) = 0, over the audited
            inside = np.isin(denominator, numerator).astype(float)
            model.equal(denominator, 0.0, source, w * (inside - float(row["value"])))
            return
        weighted = False  # one weight: the weighted rate is the ratio of the counts
    if weighted and not reads_as_counts(row):
        return
    count = float(row["value"]) * total
    if abs(count - round(count)) < 1e-6 * max(1.0, total):
        model.equal(numerator, float(round(count)), source)
