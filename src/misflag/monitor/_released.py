"""A monitor run through the release register its spec names (docs/monitor.md, "Releases of one log").

Each monitor output alone pins none of the counts it withholds, but two outputs of one log under other
settings can: a week output publishes the sum a day output withholds a part of, an output with `--where`
the difference an unfiltered one withholds (tests/monitor/test_monitor_lp_attack_periods.py). misflag's
LP audit (`misflag.disclosure`) reads decision audits' tables, not the monitor's period tables, so it
cannot show such a pair safe: a run with `--release-register` or `--protect-releases` is refused, in one
line naming the earlier release and the settings that differ, when the register holds a release of the
same input (its sha256; in a register the user names, or the one `--protect-releases` keeps for the
log's path, of any input: it is one log's as the log grows) under other settings and either of the two
withholds anything; the same settings (the same run again, the next `--state` run) are allowed, and
withhold the pools of every period an earlier release withheld them in (with a state file restored
from an older copy, or none). On success the output is recorded there, with what it withheld.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from misflag._text import shown
from misflag.disclosure._register import ReleaseRegister, data_dir_register, input_file, locked
from misflag.errors import InputError, literal
from misflag.io import write_atomic
from misflag.monitor._run import POOL
from misflag.monitor._spec import MonitorSpec, ReleaseRefused
from misflag.result import AuditResult

#: Spec fields that say where a release is recorded, not what it publishes.
WHERE_RECORDED = ("release_register", "protect_releases")
#: A release's periods whose pools it withheld with rows: later releases of the log withhold them too.
POOL_PERIODS = "withheld_pool_periods"


def run_registered(
    spec: MonitorSpec,
    source: Any,
    run: Callable[[MonitorSpec, frozenset[str]], tuple[AuditResult, frozenset[str]]],
    *,
    ledger: str | None = None,
    table: str | None = None,
    state: str | Path | None = None,
) -> AuditResult:
    """`run(spec, periods)` checked against the registers of `_registers` (the file the spec names, else
    the input digest's and the log path's in misflag's data directory), under their locks, and recorded
    there; refused (`ReleaseRefused`) where an earlier release of the same log under other settings and
    this one could pin a withheld count, the `state` file `run` wrote then put back as it was. The run
    withholds the pools of every period an earlier release withheld them in (`periods`), whatever its
    state file says or without one. Neither the registers' paths nor their releases are published."""
    from misflag.io._readers import hashed_once

    if ledger is not None or table is not None:
        raise InputError(
            "a release register keys releases by the input file's sha256: give a file, not {ledger} or {table}"
        )
    inner = replace(spec, release_register=None, protect_releases=False)
    settings = _settings(inner)
    path = input_file(source)
    with hashed_once(path) as digest, ExitStack() as held:
        registers = _registers(spec, path, digest)
        for register in sorted(registers):  # one order for every run: two runs cannot wait on each other
            held.enter_context(locked(register))
        opened = {register: ReleaseRegister(register) for register in registers}
        earlier: list[dict[str, Any]] = []
        for register, linked in registers.items():
            for release in opened[register].releases:
                if release["sha256"] == digest:
                    _check_kind(release)
            # a register of one log (named, or of its path) holds its releases as it grows (a new digest
            # each day): every monitor release there is linked; a digest's register, that digest's only
            earlier += [
                r
                for r in opened[register].releases
                if r["sha256"] == digest or (linked and r["metadata"].get("audit") == "monitor")
            ]
        for release in earlier:
            if _withholds(release["metadata"]):
                _check_settings(release, settings, "it withholds counts", digest)
        # one number past every register's releases, so free in each; checked before anything is written
        name = release_name(inner, max(len(r.releases) for r in opened.values()) + 1)
        if any(r["name"] == name for releases in opened.values() for r in releases.releases):
            raise InputError(f"{literal(shown(name))}: a release of that name is already registered")
        with _kept_unless_published(state):
            result, pool_periods = run(inner, _pool_periods(earlier))
            if (result.metadata.get("input") or {}).get("sha256") != digest:
                raise InputError(
                    "the input changed while it was monitored; nothing was recorded: run it again"
                )
            if _withholds(result.metadata):
                for release in earlier:
                    _check_settings(release, settings, "this output withholds counts", digest)
        result.metadata["spec"]["protect_releases"] = True  # as recorded in the register too
        result.metadata["release"] = name
        for releases in opened.values():
            releases.record(name, result.rows(), _recorded(inner, result, pool_periods))
        return result


def _registers(spec: MonitorSpec, path: Path, digest: str) -> dict[Path, bool]:
    """The registers a run is checked against and recorded in, each with whether it is one log's (every
    monitor release in it linked, whatever its digest): the one the spec names; else, in misflag's data
    directory, the input digest's (the same bytes at any path) and the log path's (the same path as the
    log grows: a key of the resolved path, `path-` and its sha256, never a content digest)."""
    if spec.release_register is not None:
        return {spec.release_register: True}
    where = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return {data_dir_register(digest): False, data_dir_register(f"path-{where}"): True}


@contextmanager
def _kept_unless_published(state: str | Path | None) -> Iterator[None]:
    """The state file as it was before the block (or none, as none was) where the block raises: a run
    that is refused publishes nothing, so its state must not move on (`--state` would not read its rows
    again)."""
    path, known, before = None if state is None else Path(state), False, None
    with suppress(OSError):  # a state path the system cannot read: the monitor says so in one line
        before = path.read_bytes() if path is not None and path.is_file() else None
        known = path is not None

    def put_back(temporary: Path) -> None:
        temporary.write_bytes(before or b"")

    try:
        yield
    except BaseException:
        if path is not None and known and before is not None:
            write_atomic(path, put_back, "state file")
        elif path is not None and known and path.is_file():  # made by the refused run
            path.unlink()
        raise


def release_name(spec: MonitorSpec, number: int) -> str:
    """A monitor release's name in the register: its number and what it publishes."""
    words = [f"{number}: monitor by {spec.group}, per {spec.period}"]
    words += [f"where {spec.where}"] if spec.where is not None else []
    return " ".join(words)[:300]


def _settings(spec: MonitorSpec) -> dict[str, Any]:
    """The spec's fields as a release's metadata holds them (after JSON), but where it is recorded."""
    data = json.loads(json.dumps(spec.to_dict()))
    return {key: value for key, value in data.items() if key not in WHERE_RECORDED}


def _withholds(metadata: dict[str, Any]) -> bool:
    """Whether an output withholds any row: it then leaves its row totals out (`_run.run_monitor`)."""
    return (metadata.get("input") or {}).get("rows") is None


def _pool_periods(earlier: list[dict[str, Any]]) -> frozenset[str]:
    """The periods (ISO starts) whose pools the earlier releases withheld with rows: a later output that
    published them would bound those counts from above, as a state file's next output would
    (`_withhold.pools_withheld`). A release recorded before they were kept gives every period where it
    withheld a pool (more than needed: a pool without rows is withheld alone)."""
    periods: set[str] = set()
    for release in earlier:
        metadata = release["metadata"]
        kept = metadata.get(POOL_PERIODS)
        if kept is None:
            kept = [time for attribute, _, time in metadata.get("withheld", []) if attribute == POOL]
        periods.update(str(time) for time in kept)
    return frozenset(periods)


def _recorded(spec: MonitorSpec, result: AuditResult, pool_periods: frozenset[str]) -> dict[str, Any]:
    """The output's metadata as the register keeps it: its stages as [name, expression] pairs (as a
    register's releases name them), `withheld`, [attribute, group, period start] of every group- or
    pool-period whose counts it withholds, and the periods whose pools it withheld with rows (the
    register is as private as the log)."""
    metadata = dict(result.metadata)
    expressions = dict(metadata["expressions"])
    names = (name for name, _ in spec.pipeline)
    expressions["stages"] = [[name, text] for name, text in zip(names, expressions["stages"], strict=True)]
    rows = result.extras["periods"].to_pylist()
    withheld = [
        [r["attribute"], r["group"], r["time"]] for r in rows if r["metric"] == "n" and r["suppressed"]
    ]
    return {**metadata, "expressions": expressions, "withheld": withheld, POOL_PERIODS: sorted(pool_periods)}


def _check_kind(release: dict[str, Any]) -> None:
    """A release of the same input by another audit: no reader links it with a monitor output."""
    if release["metadata"].get("audit") != "monitor":
        raise ReleaseRefused(
            f"earlier release {literal(shown(release['name']))} of this log is not a monitor's: the monitor "
            "cannot be checked against it; give the monitor a {release_register} of its own"
        )


def _check_settings(release: dict[str, Any], settings: dict[str, Any], because: str, digest: str) -> None:
    """Refused when the earlier release was made with other settings (`because`: which side withholds;
    `digest`: this input's, to say whether the release is of this very file or of another version)."""
    theirs = release["metadata"].get("spec")
    theirs = theirs if isinstance(theirs, dict) else {}
    differ = [key for key, value in settings.items() if theirs.get(key) != value]
    if differ:
        named = ", ".join(
            f"{{{key}}} {literal(shown(theirs.get(key)))} (now {literal(shown(settings[key]))})"
            for key in differ
        )
        of = "this log" if release["sha256"] == digest else "another version of this log (or another log)"
        raise ReleaseRefused(
            f"earlier release {literal(shown(release['name']))} of {of} was published with {named}, and "
            f"{because}: together the two outputs could give withheld counts back; monitor with its settings, "
            "or keep another release register"
        )
