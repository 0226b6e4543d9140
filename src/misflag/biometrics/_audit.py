"""The biometric audit: per-group FMR and FNMR (FPIR and FNIR for searches) at operating thresholds."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from misflag._beside import Beside
from misflag._text import shown
from misflag.biometrics import _score_type as typed
from misflag.biometrics._clustered import Clustered, effective_sizes
from misflag.biometrics._disclosure import plan
from misflag.biometrics._eer import WIDENED_NOTE, eer_interval
from misflag.biometrics._group_checks import check_groups
from misflag.biometrics._groups import OVERALL, Grouping, groupings
from misflag.biometrics._outputs import curves as make_curves
from misflag.biometrics._outputs import metadata
from misflag.biometrics._reader import RATES, WHOLE
from misflag.biometrics._rows import Emitter, Rate
from misflag.biometrics._scan import (
    Checked,
    Histogram,
    Profile,
    bin_mask,
    bin_rows,
    check,
    scan,
    score_type,
)
from misflag.biometrics._spec import BiometricSpec
from misflag.biometrics._subjects import cluster_sums, subject_problems, subject_types_match
from misflag.biometrics._text import summary_text
from misflag.biometrics._thresholds import (
    Eer,
    OperatingPoint,
    eer_bins,
    equal_error_rate,
    locate,
    matched_at,
    resolution_warning,
    threshold_from,
)
from misflag.engine import Engine, PendingClose, get_engine
from misflag.errors import InputError, literal
from misflag.io import InputInfo, check_before_engine, load_input
from misflag.result import AuditResult, make_row, rows_to_table

if TYPE_CHECKING:
    from misflag.disclosure._goal import AuditSummary

Progress = Callable[[str, float], None]


def run_biometrics(
    spec: BiometricSpec,
    source: Any,
    *,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Run the audit a spec describes on a file, DuckDB/PostgreSQL table or in-memory frame."""
    report = progress or (lambda step, fraction: None)
    report("reading input", 0.0)
    check_before_engine(engine, source, table, lambda columns: check(spec, columns))
    runner = get_engine(engine)
    closing: PendingClose | None = None
    try:
        info = load_input(runner, source, table=table)
        checked = check(spec, info.columns)
        report("counting scores", 0.2)
        kind = score_type(runner, checked)
        stored = typed.stored_type(kind)
        given = typed.given_thresholds(runner, spec, checked, stored)
        prof, hist = scan(runner, spec, checked, given, kind)
        all_groupings = groupings(spec, checked, prof.keys)
        check_groups(spec, prof, all_groupings)
        report("exact thresholds", 0.6)
        points, matched, eers = _exact(runner, spec, checked, prof, hist, all_groupings, stored, given)
        clustered: dict[str, Clustered] = {}
        if spec.clustered:
            report("clustering by subject", 0.75)
            clustered = _cluster(runner, spec, checked, prof, all_groupings, points, matched)
        planned = plan(spec, prof, all_groupings, clustered, matched, [p.internal for p in points])
        # only published EER thresholds are printed, so only theirs are checked: a withheld group's
        # threshold and scores must not reach an error line
        shown_eers = {k: e for k, e in eers.items() if _published(all_groupings, planned[0], k)}
        eers = typed.printed_eers(runner, spec, checked, stored, shown_eers)
        closing = PendingClose(runner)  # every read is done: the engine closes beside the rows
        report("writing results", 0.9)
        result = _result(
            spec, checked, info, engine, prof, hist, all_groupings, points, matched, eers, clustered, planned
        )
    except BaseException:
        with suppress(Exception):  # the audit's own error is the one to tell, not a failed close
            if closing is None:
                runner.close()
            else:
                closing.wait()
        raise
    closing.wait()
    report("done", 1.0)
    return result


def _result(
    spec: BiometricSpec,
    checked: Checked,
    info: InputInfo,
    engine: str,
    prof: Profile,
    hist: Histogram,
    all_groupings: list[Grouping],
    points: list[OperatingPoint],
    matched: np.ndarray,
    eers: dict[tuple[str, str], Eer],
    clustered: dict[str, Clustered],
    planned: tuple[dict[str, np.ndarray], AuditSummary | None],
) -> AuditResult:
    """The long table, curves, metadata and summary from the counts (no engine is needed any more)."""
    rows: list[dict[str, Any]] = []
    levels, disclosure = planned
    hidden = {attribute: level >= RATES for attribute, level in levels.items()}
    for grouping in all_groupings:
        rows += _grouping_rows(
            spec,
            prof,
            grouping,
            levels[grouping.attribute],
            points,
            matched,
            eers,
            clustered.get(grouping.attribute),
            (prof.n - hist.counts.sum(axis=1)) * (prof.y == 0),
        )
    curves = make_curves(
        spec, prof, hist, [g for g in all_groupings if g.kind in {"overall", "group"}], hidden
    )
    result = AuditResult(
        kind="biometrics",
        table=rows_to_table(rows),
        metadata=metadata(
            spec,
            checked,
            info,
            engine,
            prof if levels[OVERALL][0] < WHOLE else None,
            [p.describe(spec, not _scope_withheld(spec, all_groupings, hidden)) for p in points],
        ),
        extras={"threshold_curves": curves},
    )
    if disclosure is not None:
        result.metadata["disclosure_audit"] = disclosure
    result.metadata["eer_thresholds"] = {
        f"{grouping.attribute} = {name}": -eers[key].threshold if spec.distance else eers[key].threshold
        for grouping in all_groupings
        for g, name in enumerate(grouping.labels)
        if (key := (grouping.attribute, name)) in eers and not hidden[grouping.attribute][g]
    }
    metric, units = ("FPIR", "searches") if spec.search else ("FMR", "impostor comparisons")
    withheld = _scope_withheld(spec, all_groupings, hidden)  # then the warning names no count
    result.metadata["warnings"] = [
        note for p in points if p.target and (note := resolution_warning(p.target, metric, units, withheld))
    ]
    result.summary = summary_text(result, spec)
    return result


def _exact(
    engine: Engine,
    spec: BiometricSpec,
    checked: Checked,
    prof: Profile,
    hist: Histogram,
    all_groupings: list[Grouping],
    stored: typed.Stored,
    given: list[float],
) -> tuple[list[OperatingPoint], np.ndarray, dict[tuple[str, str], Eer]]:
    """Operating points, exact counts at or above each (per key), and EERs, from one read of a few bins.
    `given` are the given thresholds as the score's stored type compares them (`_score_type`)."""
    reference = prof.y == 0
    scope = "all impostor pairs" if not spec.search else "all non-mated searches"
    if spec.threshold_group is not None:
        by_group = all_groupings[1]
        reference = reference & (
            np.asarray(by_group.labels, dtype=object)[by_group.index] == spec.threshold_group
        )
        kind = "non-mated searches" if spec.search else "impostor pairs"
        scope = f"the {kind} of {spec.group} = {spec.threshold_group}"
    total = int(prof.n[reference].sum())
    targets = [locate(fmr, hist.counts[reference].sum(axis=0), total) for fmr in spec.target_fmrs]
    plans: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for grouping in (g for g in all_groupings if g.kind in {"overall", "group"}):
        for g, name in enumerate(grouping.labels):
            members = grouping.index == g
            plans[(grouping.attribute, name)] = (members & (prof.y == 0), members & (prof.y == 1))
    wanted = {t.bin for t in targets if t.bin >= 0}
    bins_for = {}
    unscored = {}  # (non-mated, mated) searches without a score: below every threshold
    for key, (imp, gen) in plans.items():
        impostors, genuines = hist.counts[imp].sum(axis=0), hist.counts[gen].sum(axis=0)
        unscored[key] = (int(prof.n[imp].sum() - impostors.sum()), int(prof.n[gen].sum() - genuines.sum()))
        bins_for[key] = eer_bins(impostors, genuines, unscored[key])
        wanted.update(bins_for[key])
    keys, bins, scores = bin_rows(engine, spec, checked, prof, hist, wanted)
    points = typed.given_points(spec, stored, given)
    columns = [hist.given[:, j] for j in range(len(points))]
    metric, units, errors = (
        ("FPIR", "searches", "false positives") if spec.search else ("FMR", "comparisons", "false matches")
    )
    for target in targets:
        if target.bin < 0:  # few enough scored comparisons that every one may match
            internal, statistic = hist.lo, None
        else:
            statistic = threshold_from(target, scores[(bins == target.bin) & reference[keys]])
            internal = typed.past(stored, statistic)
        typed.check_printed(engine, spec, checked, stored, hist.lo if statistic is None else statistic)
        method = (
            f"the most lenient threshold with {metric} <= {target.fmr:g} over {scope}{typed.note(stored)}"
        )
        counted = f"{target.impostors:,} {units}, at most {target.allowed:,} {errors}"
        points.append(OperatingPoint(internal, method, statistic, target, counted))
        columns.append(matched_at(internal, hist.counts, target.bin, keys, bins, scores))
    eers, after = {}, partial(typed.past, stored)
    cells = keys.astype(np.int64) * hist.bins + bins  # each row's (key, bin) cell: one look-up per label
    for key, (imp, gen) in plans.items():  # masks, not per-key index lists: millions of rows at 100M
        rows = np.flatnonzero(np.outer(imp | gen, bin_mask(hist.bins, bins_for[key])).ravel()[cells])
        impostors, genuines = hist.counts[imp].sum(axis=0), hist.counts[gen].sum(axis=0)
        missing = unscored[key]
        kinds = prof.y[keys[rows]]
        found = equal_error_rate(impostors, genuines, bins[rows], scores[rows], kinds, missing, after=after)
        if found is not None:  # searches without a score: a bottom bin of their own for the interval
            padded = (np.r_[missing[0], impostors], np.r_[missing[1], genuines])
            eers[key] = replace(found, histograms=padded)
    return points, np.column_stack(columns), eers


def _cluster(
    engine: Engine,
    spec: BiometricSpec,
    checked: Checked,
    prof: Profile,
    all_groupings: list[Grouping],
    points: list[OperatingPoint],
    matched: np.ndarray,
) -> dict[str, Clustered]:
    text = not subject_types_match(engine, checked)  # ids of two types compare as text
    subject_problems(engine, spec, checked, text)
    out = {}
    for grouping in all_groupings:
        thresholds = [p.internal for p in points]
        table = cluster_sums(engine, spec, checked, list(grouping.sql_keys), thresholds, text)
        errors, totals = _errors(prof, grouping, matched)
        out[grouping.attribute] = effective_sizes(table, grouping, len(points), errors, totals)
    return out


def _errors(
    prof: Profile, grouping: Grouping, matched: np.ndarray
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per label: false matches and misses at each point, and impostor and genuine comparisons."""
    totals = {y: grouping.total(prof.n * (prof.y == y)) for y in (0, 1)}
    false_matches = grouping.total(matched * (prof.y == 0)[:, None])
    misses = totals[1][:, None] - grouping.total(matched * (prof.y == 1)[:, None])
    return {0: false_matches, 1: misses}, totals


def _published(all_groupings: list[Grouping], levels: dict[str, np.ndarray], key: tuple[str, str]) -> bool:
    """Whether the label `key` (attribute, name) has its rates, its EER among them, published."""
    (grouping,) = [g for g in all_groupings if g.attribute == key[0]]
    return bool(levels[key[0]][grouping.labels.index(key[1])] < RATES)


def _scope_withheld(
    spec: BiometricSpec, all_groupings: list[Grouping], hidden: dict[str, np.ndarray]
) -> bool:
    """Whether the impostor pairs a target FMR is counted over (all, or the threshold group's) are withheld:
    then the operating points' text and warnings give no count of them."""
    if spec.threshold_group is None:
        return bool(hidden[OVERALL][0])
    by_group = all_groupings[1]
    return bool(hidden[by_group.attribute][by_group.labels.index(spec.threshold_group)])


def _grouping_rows(
    spec: BiometricSpec,
    prof: Profile,
    grouping: Grouping,
    levels: np.ndarray,
    points: list[OperatingPoint],
    matched: np.ndarray,
    eers: dict[tuple[str, str], Eer],
    clustered: Clustered | None,
    unscored_nonmated: np.ndarray,
) -> list[dict[str, Any]]:
    emitter = Emitter(grouping, levels, spec.min_cell)
    hidden = emitter.hidden
    errors, totals = _errors(prof, grouping, matched)
    scoreless = spec.search & (totals[0] > 0) & (grouping.total(unscored_nonmated) == totals[0])
    impostor_name, genuine_name = ("nonmated_n", "mated_n") if spec.search else ("impostor_n", "genuine_n")
    rows = emitter.counts("n", totals[0] + totals[1], kept_with_rates=True)
    rows += emitter.counts(impostor_name, totals[0])
    if grouping.kind in {"overall", "group"}:
        rows += emitter.counts(genuine_name, totals[1])
    if clustered is not None:
        rows += emitter.counts("subjects_n", clustered.subjects, kept_with_rates=True)
    # EER bootstraps and summaries, most of the Python time, on threads (each seeded); rows kept in order
    later: list[tuple[int, Beside[list[dict[str, Any]]]]] = [
        (len(rows), Beside(_eer_rows, spec, grouping, hidden, eers))
    ]
    # a default reference with an FPIR of 0 by construction would leave every FPIR comparison without data
    reference = _reference(spec, grouping, np.where(scoreless, 0, totals[0]), hidden)
    for j, point in enumerate(points):
        stage = point.stage(spec)
        false_match, false_non_match = _point_rates(spec, errors, totals, clustered, scoreless, j)
        rows += emitter.rates(stage, false_match)
        if grouping.kind not in {"overall", "group"}:
            continue
        rows += emitter.rates(stage, false_non_match)
        if grouping.kind == "group" and reference is not None:
            rows += emitter.comparisons(stage, false_match, reference)
            rows += emitter.comparisons(stage, false_non_match, reference)
            summary = (stage, false_match, false_non_match, spec.fdr_alpha, spec.seed + 7 * j)
            later.append((len(rows), Beside(emitter.inequality, *summary)))
    for position, task in reversed(later):
        rows[position:position] = task.result()
    return rows


def _point_rates(
    spec: BiometricSpec,
    errors: dict[int, np.ndarray],
    totals: dict[int, np.ndarray],
    clustered: Clustered | None,
    scoreless: np.ndarray,
    j: int,
) -> tuple[Rate, Rate]:
    """The false match and false non-match rates per label at point j."""
    false_match = Rate(
        spec.false_positive,
        errors[0][:, j],
        totals[0],
        clustered.impostor[:, j] if clustered else totals[0],
        clustered is not None,
        (clustered.impostor_limits[0][:, j], clustered.impostor_limits[1][:, j]) if clustered else None,
        clustered.impostor_with_errors[:, j] if clustered else None,
        clustered.impostor_effective_subjects if clustered else None,
        clustered.subjects if clustered else None,
        scoreless,
    )
    false_non_match = Rate(
        spec.false_negative,
        errors[1][:, j],
        totals[1],
        clustered.genuine[:, j] if clustered else totals[1],
        clustered is not None,
        (clustered.genuine_limits[0][:, j], clustered.genuine_limits[1][:, j]) if clustered else None,
        clustered.genuine_with_errors[:, j] if clustered else None,
        clustered.genuine_effective_subjects if clustered else None,
        clustered.subjects if clustered else None,
    )
    return false_match, false_non_match


def _reference(
    spec: BiometricSpec, grouping: Grouping, impostors: np.ndarray, hidden: np.ndarray
) -> int | None:
    """The named reference group (or the threshold group), else the shown group with most impostor pairs."""
    if grouping.kind != "group" or np.count_nonzero(~hidden) < 2:
        return None
    named = spec.reference or spec.threshold_group
    if named is not None:
        position = grouping.labels.index(named)
        if hidden[position]:
            raise InputError(
                f"reference group {literal(shown(named))} has its rates withheld for disclosure control "
                f"(--min-cell {spec.min_cell}); name a group whose rates are published with --reference"
            )
        return position
    return int(np.argmax(np.where(hidden, -1, impostors)))


def _eer_rows(
    spec: BiometricSpec, grouping: Grouping, hidden: np.ndarray, eers: dict[tuple[str, str], Eer]
) -> list[dict[str, Any]]:
    """The EER per shown group; interval: a bootstrap of the histograms, the threshold found again each time."""
    rows = []
    for g, name in enumerate(grouping.labels):
        found = eers.get((grouping.attribute, name))
        if found is None or hidden[g] or found.histograms is None:
            continue
        low, high, widened = eer_interval(found.value, *found.histograms, seed=spec.seed + 1 + g)
        rows.append(
            make_row(
                grouping.attribute,
                name,
                "all",
                "eer",
                found.value,
                low,
                high,
                min(found.impostors, found.genuines),
                warning="the interval re-finds the EER threshold on each bootstrap draw; "
                f"{'searches' if spec.search else 'pairs'} taken as independent"
                + (f"; {WIDENED_NOTE}" if widened else ""),
            )
        )
    return rows
