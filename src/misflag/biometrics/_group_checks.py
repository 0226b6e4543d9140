"""Refusals before a biometric audit counts anything: a group without impostor or genuine comparisons,
or a threshold group or reference that names no group."""

from __future__ import annotations

from misflag._text import clipped, shown
from misflag.biometrics._groups import Grouping
from misflag.biometrics._scan import Profile
from misflag.biometrics._spec import BiometricSpec
from misflag.errors import InputError, literal
from misflag.io import did_you_mean, name_list


def check_groups(spec: BiometricSpec, prof: Profile, all_groupings: list[Grouping]) -> None:
    """Every group needs impostor and genuine comparisons; named groups must exist."""
    what = (
        {0: ("non-mated searches", "FPIR"), 1: ("mated searches", "FNIR")}
        if spec.search
        else {
            0: ("impostor pairs", "FMR"),
            1: ("genuine pairs", "FNMR"),
        }
    )
    for grouping in all_groupings:
        if grouping.kind not in {"overall", "group"}:
            continue
        for y, (kind, metric) in what.items():
            counts = grouping.total(prof.n * (prof.y == y))
            for g, name in enumerate(grouping.labels):
                if counts[g] == 0:
                    where = (
                        "the input"
                        if grouping.kind == "overall"
                        else f"group {literal(shown(name))} of {literal(clipped(grouping.attribute))}"
                    )
                    raise InputError(
                        f"{where} has no {kind}, so its {metric} is undefined; filter it out with {{where}} or merge groups"
                    )
    labels = all_groupings[1].labels if spec.group else ()
    for option, value in (("{threshold_group}", spec.threshold_group), ("{reference}", spec.reference)):
        if value is None:
            continue
        if not spec.group:
            raise InputError(f"{option} names a group of {{group}}; give {{group}}")
        if value not in labels:
            raise InputError(
                f"{option} {literal(shown(value))} is not a group of {literal(clipped(spec.group))}"
                f"{did_you_mean(value, labels)} (groups: {name_list(labels)})"
            )
