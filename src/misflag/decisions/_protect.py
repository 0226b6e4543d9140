"""The decision audit's last step before it publishes: the disclosure audit by linear programming, and
more suppression until every sensitive withheld count is protected (docs/disclosure.md).

A withheld count is sensitive when it holds from 1 to `min_cell` - 1 people (a group's size, a rate's
numerator or denominator; an empty count is not sensitive, as in tau-ARGUS's threshold rule). Each
sensitive count's feasibility interval, solved from everything the output publishes, must be at least
ceil(min_cell / 2) people wide, or reach down to 0.

Secondary suppression is cost-aware first (`disclosure._optimal`): the cheapest groups to withhold (rates,
or whole) meeting every cut the audit's LP duals gave so far, published and audited again, until the
audit passes. When it gives up (rounds, seconds, a count no suppression frees), the greedy escalation
(`_protect_greedy`) runs: an exposed group is withheld one step further per round (every figure but n;
then the whole group; then the published group of the same attribute that shares the most values with
it), the last resort withholding every group of that attribute. The audit, never the optimiser, decides."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from misflag._text import shown
from misflag.decisions._disclosure import Forced
from misflag.decisions._groups import Grouping
from misflag.decisions._protect_greedy import greedy
from misflag.decisions._protect_open import MILP_SOLVER, OPTIMISER_GROUPS
from misflag.disclosure import FIGURES, DisclosureAudit, Interval, Output, Target, audit_outputs, base_metric
from misflag.disclosure._figures import reads_as_counts
from misflag.disclosure._goal import protection_level
from misflag.disclosure._kept import Carried, Models
from misflag.disclosure._load import bundle_output
from misflag.disclosure._model import CountRow
from misflag.disclosure._optimal import Choice, Cut, Equation, cheapest
from misflag.disclosure._register import RELEASED, CountKey, Releases
from misflag.disclosure._weights import StateWeights, state_weights
from misflag.disclosure._where_cells import tied_groups
from misflag.errors import InputError, literal
from misflag.result import OVERALL_ATTRIBUTE

THIS = "this audit"  # the output being protected, among earlier releases
#: What to pass where a release register protects an audit without its input file (`Releases.source`)
_NO_SOURCE = (
    "pass the audited file as source (ReleaseRegister.recorded(name, run, source) or protecting(source))"
)
#: The optimiser's limits (then the greedy runs): rounds of (MILP, publish, audit), counted rather than
#: timed so that the same input is protected the same way on a busy machine; groups in the table
#: (`_protect_open.OPTIMISER_GROUPS`); and seconds per MILP solve (HiGHS's time limit; the pattern it has
#: then is still audited).
OPTIMISER_ROUNDS = 40
MILP_SECONDS = 30.0
#: A count still exposed after the cuts of this many rounds gets, per round, up to ALTERNATIVE_CUTS more
#: cuts: other sets of equations that pin it. Fewer rounds on stubborn counts (benchmark seed 2: 15 -> 5),
#: but more cuts at once can cost more people (the cuts do not see the hypercubes a pattern brings): of
#: (cuts, rounds) = (3, 1), (1, 1), (1, 2), (3, 2), (2, 2) tried, only (2, 2) withheld no more people on
#: COMPAS and ANES 1996 than one cut per count (docs/disclosure.md)
STUBBORN_ROUNDS = 2
ALTERNATIVE_CUTS = 2

#: forced suppressions -> (published rows, the same rows with nothing withheld, metadata to publish)
_Pattern = tuple[frozenset[tuple[str, str | None]], frozenset[tuple[str, str | None]]]
Publisher = Callable[[Forced], tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]]


@dataclass(frozen=True)
class Reader:
    """How a reader of this audit's output sees it (everything but the rows, which change per round)."""

    groups: tuple[str, ...]
    stages: dict[str, str]
    truth: str
    weighted: bool
    digest: str
    filtered: bool
    missing_label: str
    groupings: list[Grouping]

    def output(self, rows: list[dict[str, Any]], metadata: dict[str, Any], linked: bool = False) -> Output:
        """This audit's output; `linked`: exactly as a reader of the saved bundle holds it (labels read
        as text, a --where as value lists), so that it links to earlier releases read the same way."""
        if linked:
            return bundle_output(THIS, rows, metadata)
        keys = {
            (grouping.attribute, grouping.output_label(g)): key
            for grouping in self.groupings
            for g, key in enumerate(grouping.keys)
        }
        return Output(
            name=THIS,
            rows=rows,
            groups=self.groups,
            stages=self.stages,
            truth=self.truth,
            weighted=self.weighted,
            population=self.digest,
            rows_audited=metadata.get("rows_audited"),
            input_rows=None if self.filtered else (metadata.get("input") or {}).get("rows"),
            missing_label=self.missing_label,
            keys=keys,
            weights=self.weights(metadata),
        )

    def weights(self, metadata: dict[str, Any]) -> StateWeights | None:
        """The audit-sample weights by state, as a reader works them out from the published expressions."""
        expressions = metadata.get("expressions") or {}
        weight, groups = expressions.get("weight"), tuple(expressions.get("groups") or ())
        return state_weights(weight, tuple(self.stages.values()), self.truth, groups) if weight else None


def protect(
    publish: Publisher,
    reader: Reader,
    min_cell: int,
    first: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any], DisclosureAudit]:
    """Publish, audit, withhold more, until no sensitive withheld count is too narrow: the cost-aware
    optimiser first, the greedy escalation when it gives up; the output is audited in full (no earlier
    interval reused; earlier rounds' points only where they satisfy every equation of this output)
    before it is returned, and the audit's `secondary` says which method ran. `first`: what `publish`
    gave with nothing forced, if already published (`_protect_open`), not published again.

    Inside `ReleaseRegister.protecting()`, the output is audited jointly with every earlier release of
    the same input; when even the greedy's last resort leaves one exposed, InputError names it."""
    rounds = _Rounds(publish, reader, min_cell)
    _refuse_tied(rounds, [])  # beside an earlier release that withholds: refused before any round
    if first is not None:
        rounds.last = _Publication((frozenset(), frozenset()), *first)
    optimised, reason = _optimise(rounds)
    if optimised is None:
        rows, metadata, audit = greedy(rounds)
        if audit.exposed and rounds.earlier:
            raise InputError(_refusal(audit.exposed))
        secondary: dict[str, object] = {"method": "greedy", "why": reason}
        if rounds.earlier:  # named as the optimiser names them (an output of no register: as before)
            secondary["earlier_releases"] = [o.name for o in rounds.earlier]
        optimised = rows, metadata, replace(audit, secondary=secondary)
    if rounds.earlier and rounds.last is not None:
        rounds.refuse_unlinked(rounds.last.output, any(row["suppressed"] for row in optimised[0]))
    _refuse_tied(rounds, optimised[0])
    releases = RELEASED.get()
    if releases is not None:  # the register keeps this audit's sensitive withheld counts
        releases.withheld = rounds.withheld(optimised[2])
    return optimised


@dataclass
class _Publication:
    """One pattern as published, and what its audits share: the reader's output and models, built once
    (the very same figures each time: `disclosure._kept.Models`)."""

    pattern: _Pattern
    rows: list[dict[str, Any]]
    shadow: list[dict[str, Any]]
    metadata: dict[str, Any]
    output: Output | None = None
    models: Models = field(default_factory=Models)


class _Rounds:
    """One round: publish with the forced suppressions, audit (jointly with earlier releases)."""

    def __init__(self, publish: Publisher, reader: Reader, min_cell: int) -> None:
        releases, digest = RELEASED.get(), reader.digest
        self.releases = releases
        earlier = [
            o
            for o in (releases.outputs if releases else ())
            if digest and o.population.partition("|")[0] == digest
        ]
        # a --where other than value lists is linked by the cells it keeps where it reads group expressions
        self.linked_by = tuple(dict.fromkeys([*reader.groups, *(g for o in earlier for g in o.groups)]))
        self.earlier = [releases.linked(o, digest, self.linked_by) for o in earlier] if releases else []
        # an earlier release's withheld counts stay sensitive below the min_cell it was made at: a later
        # audit at a lower min_cell must not give them back (the joint audit uses the larger of the two)
        if releases is not None:
            min_cell = max(min_cell, releases.min_cell_of(self.earlier))
        self.publish, self.reader, self.min_cell = publish, reader, min_cell
        self.level = protection_level(min_cell)
        self.points: dict[str, Carried] = {}  # feasible points of earlier rounds, re-checked
        self.known: Callable[[Target], float | None] = lambda target: None
        self.last: _Publication | None = None

    def run(
        self,
        forced: Forced,
        settled: dict[bytes, Interval] | None = None,
        more: Callable[[Target], int] | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], DisclosureAudit]:
        pattern = (frozenset(forced["n"]), frozenset(forced["detail"]))
        if self.last is None or self.last.pattern != pattern:  # the full audit of the last pattern: not again
            self.last = _Publication(pattern, *self.publish(forced))
        last = self.last
        rows, shadow, metadata = last.rows, last.shadow, last.metadata
        if self.nothing_to_audit(rows):
            return rows, shadow, metadata, DisclosureAudit(self.level, [], self.min_cell)
        if last.output is None:
            last.output = self.reader.output(rows, metadata, linked=bool(self.earlier))
            if self.releases is not None and self.earlier:
                last.output = self.releases.linked(last.output, self.reader.digest, self.linked_by)
                self.refuse_unlinked(last.output, withholds=False)  # before any round, where it can
        output = last.output
        self.known = _mine(_known(shadow, self.min_cell, self.reader), self.releases)
        # a count known to hold min_cell or more is not sensitive (an earlier release's, value unknown)
        audit = audit_outputs(
            [output, *self.earlier],
            self.level,
            self.known,
            settled,
            sensitive_below=self.min_cell,
            points=self.points,
            models=last.models,  # the full audit of a pattern builds no model its round built
            more=more,
            removable=_removable,
            pins=more is not None,  # the optimiser's cuts; the greedy reads only which counts are exposed
        )
        return rows, shadow, metadata, audit

    def nothing_to_audit(self, rows: list[dict[str, Any]]) -> bool:
        """Nothing withheld and no earlier release to link: the audit's targets are the withheld counts,
        so there is none, and the reader's model need not be built (`audit_outputs` would find no target
        in it and solve nothing: the same, empty, audit). Nor is such an output refused for spanning
        more unknown counts than the LP takes: no LP is solved."""
        return not self.earlier and not any(row["suppressed"] for row in rows)

    def refuse_unlinked(self, output: Output | None, withholds: bool) -> None:
        """InputError where a release of this input whose --where cannot be linked (`_where_cells`:
        this one, or an earlier one) stands beside one that withholds counts (an earlier release, or
        this output when `withholds`): a difference of their totals could give those counts back."""
        if self.releases is None or not self.earlier:
            return
        outputs = [*self.earlier, *([output] if output is not None else [])]
        withholding = [o.name for o in self.earlier if any(r.get("suppressed") for r in o.rows)]
        withholding += [THIS] if withholds else []
        self.releases.refuse_unlinked(outputs, withholding, self.linked_by, (THIS, THIS), _NO_SOURCE)

    def withheld(self, audit: DisclosureAudit) -> dict[CountKey, float]:
        """This output's sensitive withheld counts (the auditor's values), by the rows that withhold them."""
        out: dict[CountKey, float] = {}
        for interval in audit.intervals:
            value = self.known(interval.target)
            for name, *key in interval.target.rows:
                if name == THIS and value is not None and math.isfinite(value):
                    out[cast(CountKey, tuple(key))] = value
        return out


def _optimise(
    rounds: _Rounds,
) -> tuple[tuple[list[dict[str, Any]], dict[str, Any], DisclosureAudit] | None, str]:
    """The cheapest pattern meeting every cut found so far (`disclosure._optimal`), published and audited
    in full, round after round, until the audit finds nothing exposed (None and why, when it gives up)."""
    forced: Forced = {"n": set(), "detail": set()}
    cuts: set[Cut] = set()
    choice: Choice | None = None
    settled: dict[bytes, Interval] = {}  # protected in an earlier round: a shortcut while planning
    stubborn: dict[bytes, int] = {}  # per count, the earlier rounds that found it exposed

    def more(target: Target) -> int:
        return ALTERNATIVE_CUTS if stubborn.get(target.columns.tobytes(), 0) >= STUBBORN_ROUNDS else 0

    for round_number in range(1, OPTIMISER_ROUNDS + 1):
        reused = bool(settled)  # intervals of earlier rounds' patterns, taken without solving
        rows, shadow, metadata, audit = rounds.run(forced, settled, more)
        groups = sum(r["metric"] == "n" for r in shadow)
        if groups > OPTIMISER_GROUPS:
            return None, f"{groups:,} groups, more than the {OPTIMISER_GROUPS:,} the optimiser takes"
        if not audit.exposed and reused:
            # another pattern may have left a settled count less room: published only after a full audit
            # (where round 1 passes, its audit reused nothing: it was that full audit)
            settled.clear()
            rows, shadow, metadata, audit = rounds.run(forced, more=more)
        if not audit.exposed:
            secondary: dict[str, object] = {
                "method": "milp",
                "solver": MILP_SOLVER,
                # the last pattern is the cheapest meeting every cut, unless HiGHS hit its time limit
                "cheapest_for_its_cuts": choice is None or choice.proven,
                "rounds": round_number,
                "cuts": len(cuts),
                "earlier_releases": [o.name for o in rounds.earlier],
            }
            return (rows, metadata, replace(audit, secondary=secondary)), ""
        new = {
            frozenset(eq for eq in pins if _removable(eq))
            for interval in audit.exposed
            for pins in (interval.pins, *interval.alternatives)
        }
        if frozenset() in new:
            return None, "a withheld count rests only on figures no suppression in this output removes"
        for interval in audit.exposed:
            key = interval.target.columns.tobytes()
            stubborn[key] = stubborn.get(key, 0) + 1
        cuts |= new
        sizes = {(r["attribute"], r["group"]): float(r["value"] or 0.0) for r in shadow if r["metric"] == "n"}
        choice = cheapest(sizes, cuts, MILP_SECONDS)
        if choice is None:
            return None, "the MILP found no pattern"
        forced = {"n": set(choice.whole), "detail": set(choice.rates)}
    return None, f"no pattern passed the audit in {OPTIMISER_ROUNDS} rounds"


def _refuse_tied(rounds: _Rounds, rows: list[dict[str, Any]]) -> None:
    """InputError where a group expression reads the truth or a decision (this output's, or an earlier
    release's of the same input) and a count is withheld (here or there): a reader who knows that a
    group's people share a truth or a flag pins withheld counts the model leaves open (in one output,
    `--group g --group flag` intersected; across releases, `--group g` then `g x truth`)."""
    reader = rounds.reader
    output = Output(THIS, rows, reader.groups, reader.stages, reader.truth, reader.weighted, reader.digest)
    withholds = any(row["suppressed"] for row in rows) or any(
        any(row.get("suppressed") for row in earlier.rows) for earlier in rounds.earlier
    )
    tied = [(o.name, group) for o in (output, *rounds.earlier) for group in tied_groups(o)]
    if withholds and tied:
        name, group = tied[0]
        raise InputError(
            f"the group expression {literal(shown(group))} of {literal(shown(name))} reads the truth or a "
            "decision, and counts are withheld: a reader who knows its groups share a truth or a flag could "
            "pin them; leave that expression out of --group"
        )


def _removable(equation: Equation) -> bool:
    """Whether this output can stop publishing the equation: not when an earlier release publishes it
    too, nor when it is the overall n (or the row counts with it), which the optimiser keeps (as the
    greedy's last resort does)."""
    return all(
        source[0] == THIS and not (source[1] == OVERALL_ATTRIBUTE and source[3] == "n") for source in equation
    )


def _refusal(exposed: list[Interval]) -> str:
    """One line: the earlier releases whose withheld counts this output would expose, and one example."""
    names = sorted({row[0] for i in exposed for row in i.target.rows if row[0] != THIS})
    # the example is an earlier release's count where one is exposed (the narrowest), named as it withholds it
    first = min(exposed, key=lambda i: (all(row[0] == THIS for row in i.target.rows), i.width))
    _, attribute, group, stage, metric, part = next(
        (row for row in first.target.rows if row[0] != THIS), first.target.rows[0]
    )
    figure = "n" if metric == "n" else f"{stage} {metric} {part}"
    whose = f"earlier release(s) {', '.join(repr(n) for n in names)}" if names else "this output"
    return (
        f"this audit cannot be published without exposing withheld counts of {whose} in the release "
        f"register (e.g. {attribute} = {group}, {figure}: {first.low:g} to {first.high:g} "
        "people); audit coarser groups or fewer breakdowns"
    )


def _mine(
    known: Callable[[Target, CountRow], float | None], releases: Releases | None
) -> Callable[[Target], float | None]:
    """The auditor's value of a withheld count: from this output's first row withholding it, else as the
    register keeps it for the earlier release that withholds it (None: not sensitive, not audited)."""

    def value(target: Target) -> float | None:
        mine = next((row for row in target.rows if row[0] == THIS), None)
        if mine is not None:
            return known(target, mine)
        return releases.value(target.rows) if releases is not None else None

    return value


def _known(
    shadow: list[dict[str, Any]], min_cell: int, reader: Reader
) -> Callable[[Target, CountRow], float | None]:
    """The auditor's own value of a withheld count (read from `row`, one of this output's rows that
    withhold it), when it is sensitive (under min_cell); else None."""
    table = {(r["attribute"], r["group"], r["stage"], r["metric"]): r for r in shadow}

    def known(target: Target, row: CountRow) -> float | None:
        _, attribute, group, stage, metric, part = row
        figure = base_metric(metric) or metric
        mine = table.get((attribute, group, stage, figure))
        if mine is None:
            return float("nan")  # not in the auditor's table: audit it, value unknown
        if part == "n":
            value = float(mine["value"])
        elif part == "denominator":
            value = float(mine["denominator"] or 0.0)
        elif reader.weighted and FIGURES[figure][2] and not reads_as_counts(mine):
            value = _weighted_count(target, table)
            if math.isnan(value):
                return value  # no weighted rate gives the count: audit it, value unknown
        else:
            value = float(round((mine["value"] or 0.0) * (mine["denominator"] or 0.0)))
        return value if 1 <= value < min_cell else None

    return known


def _weighted_count(target: Target, table: dict[tuple[str, str | None, str, str], dict[str, Any]]) -> float:
    """The audited people N of a weighted rate's numerator (NaN where no rate of it tells): with one weight
    w of theirs and one c of the rest of the rate's D audited people, rate = w N / (w N + c (D - N)), so
    N = rate c D / (w (1 - rate) + rate c)."""
    for (_, attribute, group, stage, figure), (mine, rest) in target.ratio_weights.items():
        row = table.get((attribute, group, stage, figure))
        if row is not None and row["value"] is not None and row["denominator"]:
            rate, denominator = float(row["value"]), float(row["denominator"])
            return float(round(rate * rest * denominator / (mine * (1.0 - rate) + rate * rest)))
    return float("nan")
