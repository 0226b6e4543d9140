"""Earlier biometric releases of the same scores in the reader's model of a new one (docs/biometrics.md,
"Linked releases"): the release register's earlier releases of the input's digest, each row written as a
count over the new audit's unknowns, so that the LP audit protects the new output jointly with them.

An earlier release is linked only where one model holds both: the same comparisons (`score`, `genuine`,
`where`, `distance`, `search` as written), its group expressions among the new audit's (`group`,
`group_a`, `group_b`), and its operating thresholds among the new audit's. Anything else is refused in
one line, never left out: a figure the reader holds but the model lacks would let the audit pass what the
reader pins. The counts are those of the data being audited (the same digest): a published count that
differs from them is refused as a release of other scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from misflag._text import shown
from misflag.biometrics._groups import ALL, CROSS, DIFFERENT, PAIRING, SAME
from misflag.biometrics._reader import EARLIER, Earlier, Figure, Release
from misflag.biometrics._scan import MISSING_GROUP, Profile, label
from misflag.biometrics._spec import BiometricSpec
from misflag.errors import InputError, literal
from misflag.result import OVERALL_ATTRIBUTE

#: The earlier releases (the register's entries: name, rows, metadata) a biometric audit run inside
#: `linked` is protected against.
RELEASES: ContextVar[tuple[dict[str, Any], ...]] = ContextVar("biometric_releases", default=())
#: The settings two releases must share for one model to hold both: the same comparisons and scores.
SAME_SETTINGS = ("score", "genuine", "where", "distance", "search")
#: A count's metric -> the genuine flag of the comparisons it counts (None: all of them).
COUNTS = {"n": None, "impostor_n": 0, "nonmated_n": 0, "genuine_n": 1, "mated_n": 1}


@contextmanager
def linked(releases: Sequence[dict[str, Any]]) -> Iterator[None]:
    """Biometric audits run inside are protected jointly with these earlier releases of their input."""
    token = RELEASES.set(tuple(releases))
    try:
        yield
    finally:
        RELEASES.reset(token)


def earlier_figures(spec: BiometricSpec, prof: Profile, release: Release) -> Earlier:
    """The earlier releases' figures over this audit's unknowns (empty outside `linked`)."""
    releases = RELEASES.get()
    out = Earlier(releases=tuple(str(r["name"]) for r in releases))
    if releases:
        labels = _labels(spec, prof)
        for entry in releases:
            _Linker(spec, prof, release, labels, entry, out).add()
    return out


def _labels(spec: BiometricSpec, prof: Profile) -> dict[str, np.ndarray]:
    """Each group expression of this audit -> every key's label under it (as the audit names labels)."""
    names = (["g"] if spec.group is not None else []) + (["ga", "gb"] if spec.group_a is not None else [])
    out: dict[str, np.ndarray] = {}
    for expression, name in ((spec.group, "g"), (spec.group_a, "ga"), (spec.group_b, "gb")):
        if expression is not None and expression not in out:
            position = names.index(name)
            out[expression] = np.asarray([label(key[position]) for key in prof.keys], dtype=object)
    return out


class _Linker:
    """One earlier release's rows, written as figures of `out`."""

    def __init__(
        self,
        spec: BiometricSpec,
        prof: Profile,
        release: Release,
        labels: dict[str, np.ndarray],
        entry: dict[str, Any],
        out: Earlier,
    ) -> None:
        self.spec, self.prof, self.release, self.labels, self.out = spec, prof, release, labels, out
        self.raw = str(entry["name"])
        self.name = literal(shown(self.raw))  # as messages show it
        self.rows: list[dict[str, Any]] = entry["rows"]
        metadata = entry["metadata"]
        theirs = metadata.get("spec")
        points = metadata.get("operating_points")
        if not isinstance(theirs, dict) or not _points_well_formed(points):
            raise InputError(
                f"earlier release {self.name} in the release register is not a misflag biometric release"
            )
        self.theirs = theirs
        self.stages = {str(p["stage"]): float(p["threshold"]) for p in points}
        self.listed: dict[tuple[str, str], str] = {}  # (attribute, group) -> the grouping's kind

    def add(self) -> None:
        for setting in SAME_SETTINGS:
            if self.theirs.get(setting) != getattr(self.spec, setting):
                raise InputError(
                    f"earlier release {self.name} of these scores was audited with another {{{setting}}}; "
                    "one model cannot hold both: audit with its settings, or keep another release register"
                )
        self._same_goal()
        rates = (self.spec.false_positive, self.spec.false_negative)
        for row in self.rows:  # ratios, differences, summaries and EERs are over rates: they add nothing
            if (row["metric"] in COUNTS or row["metric"] in rates) and row["group"] is not None:
                self._row(row)
        for (attribute, group), kind in self.listed.items():
            inside = self._members(attribute, group)[0]
            self.out.lower.append(self.release.columns(inside))
            if kind in {"overall", "group"}:
                self.out.lower += [self.release.columns(inside & (self.prof.y == y)) for y in (0, 1)]

    def _same_goal(self) -> None:
        """An earlier release audited with a larger min_cell withheld counts up to its min_cell - 1 as
        sensitive, at a wider protection level: this audit's goal (its own min_cell) would publish some
        of them and narrow others below that level, so it is refused (a smaller one is covered)."""
        theirs = self.theirs.get("min_cell")
        if isinstance(theirs, bool) or not isinstance(theirs, int) or theirs < 1:
            raise InputError(
                f"earlier release {self.name} in the release register is not a misflag biometric release"
            )
        if theirs > self.spec.min_cell:
            raise InputError(
                f"earlier release {self.name} of these scores was audited with {{min_cell}} {theirs}: its "
                f"withheld counts of 1 to {theirs - 1} comparisons stay protected only by an audit with "
                f"{{min_cell}} {theirs} or more; give it"
            )

    def _row(self, row: dict[str, Any]) -> None:
        """The row's count (a rate's numerator, and its denominator where published) as figures."""
        attribute, group, metric = str(row["attribute"]), str(row["group"]), str(row["metric"])
        inside, kind = self._members(attribute, group)
        self.listed[(attribute, group)] = kind
        columns = self.release.columns
        if metric in COUNTS:
            genuine = COUNTS[metric]
            keys = inside if genuine is None else inside & (self.prof.y == genuine)
            counted = [(metric, columns(keys), row["value"])]
        else:
            band = self._band(str(row["stage"]))
            if metric == self.spec.false_positive:  # impostor pairs at or above the threshold
                keys = inside & (self.prof.y == 0)
                errors = columns(keys, band + 1)
            else:  # genuine pairs below it
                keys = inside & (self.prof.y == 1)
                errors = columns(keys, 0, band + 1)
            value, denominator = row["value"], row["denominator"]
            numerator = None if value is None or denominator is None else value * denominator
            counted = [(f"{metric} errors at {row['stage']}", errors, numerator)]
            if not row["suppressed"]:
                counted.append((f"{metric} denominator at {row['stage']}", columns(keys), denominator))
        for what, columns_of, published in counted:
            count = round(float(self.release.truth[columns_of].sum()))
            exact = metric in COUNTS or self.theirs.get("subject_a") is None  # clustered: an effective size
            if not row["suppressed"] and exact and published is not None and round(published) != count:
                raise InputError(
                    f"earlier release {self.name} in the release register publishes {literal(shown(attribute))} "
                    f"= {literal(shown(group))}, {metric} that these scores do not give; it is not a release of them"
                )
            self.out.names.append(f"{attribute} = {group}, {what} (release {self.raw!r})")
            figure = Figure(EARLIER, len(self.out.names) - 1, what, columns_of, count)
            (self.out.withheld if row["suppressed"] else self.out.shown).append(figure)

    def _members(self, attribute: str, group: str) -> tuple[np.ndarray, str]:
        """The keys of a row's label, and its grouping's kind, as the earlier release grouped them."""
        theirs = self.theirs
        keys = len(self.prof.keys)
        if attribute == OVERALL_ATTRIBUTE:
            labels, kind = np.full(keys, ALL, dtype=object), "overall"
        elif theirs.get("group_a") is not None and attribute in (
            PAIRING,
            f"{theirs['group_a']}{CROSS}{theirs['group_b']}",
        ):
            first, second = self._expression(theirs["group_a"]), self._expression(theirs["group_b"])
            if attribute == PAIRING:
                paired = np.where(first == second, SAME, DIFFERENT)
                if self.spec.search:
                    paired = np.where(second == MISSING_GROUP, MISSING_GROUP, paired)
                labels, kind = paired, "pairing"
            else:
                labels, kind = np.char.add(np.char.add(first.astype(str), CROSS), second.astype(str)), "cross"
        elif theirs.get("group") is not None and attribute == str(theirs["group"]):
            labels, kind = self._expression(theirs["group"]), "group"
        else:
            raise InputError(
                f"earlier release {self.name} in the release register publishes rows of "
                f"{literal(shown(attribute))}, which this audit cannot link; audit with its group expressions"
            )
        inside = np.asarray(labels == group, dtype=bool)
        if not inside.any():
            raise InputError(
                f"earlier release {self.name} in the release register publishes {attribute} = "
                f"{literal(shown(group))}, which these scores do not hold; it is not a release of them"
            )
        return inside, kind

    def _expression(self, expression: Any) -> np.ndarray:
        found = self.labels.get(str(expression))
        if found is None:
            raise InputError(
                f"earlier release {self.name} in the release register groups these scores by "
                f"{literal(shown(str(expression)))}, which this audit does not: give it as {{group}}, "
                "{group_a} or {group_b} too, so that one model holds both"
            )
        return found

    def _band(self, stage: str) -> int:
        """The band index of the earlier release's threshold at this stage, among this audit's thresholds."""
        threshold = self.stages.get(stage)
        if threshold is None:
            raise InputError(
                f"earlier release {self.name} in the release register publishes rates at "
                f"{literal(shown(stage))}, which its operating points do not name; it is not a misflag biometric release"
            )
        found = np.flatnonzero(self.release.thresholds == (-threshold if self.spec.distance else threshold))
        if found.size == 0:
            raise InputError(
                f"earlier release {self.name} in the release register publishes rates at "
                f"{literal(shown(stage))}, a threshold this audit does not compute: give "
                f"{{threshold}} {threshold!r} too, so that one model holds both"
            )
        return int(found[0])


def _points_well_formed(points: Any) -> bool:
    """Operating points as a biometric audit writes them: a list of {stage: text, threshold: a number}."""
    return isinstance(points, list) and all(
        isinstance(p, dict)
        and isinstance(p.get("stage"), str)
        and isinstance(p.get("threshold"), int | float)
        and not isinstance(p.get("threshold"), bool)
        and math.isfinite(p["threshold"])
        for p in points
    )
