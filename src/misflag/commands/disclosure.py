"""`misflag disclosure check OUTPUT...`: the LP audit over saved outputs jointly, before publishing them
(`disclosure/_check.py`); `misflag disclosure release`: the register of what was published."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from misflag.disclosure._model import Output
    from misflag.disclosure._releases import Releases

app = typer.Typer(help="What may be published: the audit by linear programming of withheld counts.")


@app.command()
def check(
    outputs: list[Path] = typer.Argument(..., help="Saved outputs (--save bundles, --format json or csv)."),
    min_cell: int = typer.Option(
        10,
        "--min-cell",
        min=1,
        help="Your smallest publishable count: counts under it are sensitive. A bundle's own min_cell "
        "counts only where it is higher (a bundle is a file anyone can edit).",
    ),
    show_all: bool = typer.Option(
        False, "--all", help="List every withheld count checked, not only exposed ones."
    ),
    data: Path | None = typer.Option(
        None,
        "--input",
        help="The file the outputs were audited from: their withheld counts are counted again from it, "
        "and only those of 1 to min_cell - 1 people are checked.",
    ),
) -> None:
    """List every withheld count a reader of all OUTPUTS together could pin down, with its interval.

    A count is exposed when its interval is narrower than ceil(min_cell / 2) people, excludes zero and
    does not rule out fewer than min_cell people (docs/disclosure.md); with --input, when it truly holds
    1 to min_cell - 1 people. Exits 3 when any is exposed.
    """
    from misflag._text import printable
    from misflag.disclosure import check_outputs

    found = check_outputs(outputs, min_cell=min_cell, data=data)
    audit = found.audit
    exposed = {id(interval) for interval in audit.exposed}
    console = Console(highlight=False, soft_wrap=True)
    shown = audit.intervals if show_all else audit.exposed
    for interval in sorted(shown, key=lambda i: (i.width, str(i.target.rows[0]))):
        name, attribute, group, stage, metric, part = interval.target.rows[0]
        also = f" (+{len(interval.target.rows) - 1} rows)" if len(interval.target.rows) > 1 else ""
        flag = "EXPOSED " if id(interval) in exposed else ""
        console.print(
            printable(
                f"{flag}{name}: {attribute} = {group}, {stage} {metric} {part}: "
                f"{'' if interval.exact else 'at least '}{_people(interval.low)} to {_people(interval.high)} "
                f"people{also}"
            ),
            markup=False,
        )
    narrow = f"narrower than {audit.protection:g} people, excluding zero"
    if found.data is None:
        console.print(
            f"{len(audit.intervals)} withheld counts checked across {len(found.outputs)} outputs; "
            f"{len(audit.exposed)} exposed ({narrow}, possibly under {min_cell})",
            markup=False,
        )
    else:
        if found.unknown:
            console.print(
                printable(
                    f"values not known for {', '.join(found.unknown)} (not outputs of {found.data}): "
                    f"each of their withheld counts checked as possibly under {min_cell}"
                ),
                markup=False,
            )
        console.print(
            printable(
                f"{len(audit.intervals)} of {audit.withheld} withheld counts checked across "
                f"{len(found.outputs)} outputs (the others hold 0 or min_cell or more people, counted again "
                f"from {found.data}); {len(audit.exposed)} exposed ({narrow})"
            ),
            markup=False,
        )
    if audit.exposed:
        raise typer.Exit(3)


@app.command()
def release(
    output: Path = typer.Argument(..., help="A saved output (--save bundle) of a file input."),
    register: Path | None = typer.Option(
        None, "--register", help="The release register (JSON; created if absent)."
    ),
    ledger: str | None = typer.Option(
        None,
        "--ledger",
        help="Record the release in this ledger instead (sqlite:///PATH or postgresql://..., made by "
        "`misflag ledger init`; its signing key where `misflag ledger` finds it).",
    ),
    name: str | None = typer.Option(None, "--name", help="The release's name (default: the file's stem)."),
    min_cell: int = typer.Option(10, "--min-cell", min=1, help="The --min-cell the output was made with."),
    data: Path | None = typer.Option(
        None,
        "--input",
        help="The file the output was audited from: its census shows groupings nested in others, and a "
        "--where other than value lists (g <> 'a') is linked to the other releases by the cells it keeps; "
        "without it a release beside one that withholds counts is refused.",
    ),
) -> None:
    """Record OUTPUT in the release register (or the ledger), after the LP audit of it jointly with every
    earlier release of the same input; refuse (exit 3, nothing written) when together they expose a
    withheld count.

    Counts OUTPUT exposes on its own were judged by its own audit, which knew their values (a count of
    10 read as "7 to 11 people"); only what the earlier releases add is judged here. OUTPUT is recorded
    without those values, so later audits take each of its withheld counts as sensitive (a ledger never
    holds one: there every earlier release's withheld counts are audited as sensitive). The audit takes
    the --input file's census, as `decisions audit --release-register` does, and links a --where other
    than value lists to the earlier releases by the cells it keeps; one that cannot be linked beside a
    release withholding counts, or any release beside one withholding counts without --input, is refused
    (exit 2, nothing written).
    """
    import json

    from misflag.disclosure._load import load_output
    from misflag.errors import InputError

    if (register is None) == (ledger is None):
        raise InputError("give --register FILE or --ledger URL (one place to record the release)")
    loaded = load_output(output)  # one clear error for a file that is not an output
    only = f"output {output}: only a --save bundle of a file input carries the input's digest"
    try:
        bundle = json.loads(output.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise InputError(only) from None
    if not isinstance(bundle, dict) or not (bundle["metadata"].get("input") or {}).get("sha256"):
        raise InputError(only)
    label, digest = name or output.stem, str(bundle["metadata"]["input"]["sha256"])
    with _input(data, digest, output):
        if ledger is not None:
            _release_in_ledger(loaded, bundle, label, ledger, min_cell, data)
            return
        from misflag.disclosure import ReleaseRegister

        assert register is not None
        kept = ReleaseRegister(register)
        with kept.protecting(data) as releases:
            releases.values[loaded.name] = None  # the new output's values are not known: all audited
            loaded, earlier = _linked(releases, loaded, kept.outputs(digest), digest)
            _refuse_if_exposed(loaded, earlier, label, min_cell, releases.value)
    kept.record(label, bundle["rows"], bundle["metadata"])
    _recorded(f"recorded {label} in {register} ({len(earlier)} earlier releases of the same input)")


def _release_in_ledger(
    loaded: Output, bundle: dict[str, Any], label: str, url: str, min_cell: int, data: Path | None
) -> None:
    """The ledger's side of `release`: audited jointly with the input's decision releases in the ledger
    (their withheld values unknown there: each audited as sensitive), then recorded as a sealed
    `released` entry holding what `decisions audit --ledger` records (rows, metadata, digest, --where,
    groups, the earlier entries), appended only if the input's releases are still those read."""
    from misflag._text import shown
    from misflag.disclosure._ledger_register import ATTEMPTS, checked_release, payload_of
    from misflag.disclosure._load import bundle_output
    from misflag.disclosure._register import SELF_LINKED
    from misflag.disclosure._releases import Releases
    from misflag.errors import InputError, literal
    from misflag.ledger import Ledger
    from misflag.ledger._releases import lookup_parameters, record_release, releases_of

    digest = str(bundle["metadata"]["input"]["sha256"])
    lookup_parameters(digest)  # a digest that is not one: one line, before the ledger is opened
    if not isinstance(bundle["metadata"].get("spec"), dict):  # every reader of the entry needs its spec
        raise InputError(
            f"output {literal(shown(label))}: its metadata has no spec (not a decision audit's output)"
        )
    store = Ledger.open(url, create=False)
    try:
        store.require_signing_key()  # before the audit: a release is sealed when it is recorded
        for _ in range(ATTEMPTS):
            everything = [(seq, checked_release(seq, payload)) for seq, payload in releases_of(store, digest)]
            earlier = [p for _, p in everything if p["metadata"].get("audit") not in SELF_LINKED]
            if any(p["name"] == label for p in earlier):
                raise InputError(
                    f"{literal(shown(label))}: a release of that name is already recorded for this input"
                )
            outputs = [bundle_output(p["name"], p["rows"], p["metadata"]) for p in earlier]
            linked, outputs = _linked(Releases((), {}, source=data), loaded, outputs, digest)
            _refuse_if_exposed(linked, outputs, label, min_cell, lambda _rows: float("nan"))
            seen = [seq for seq, _ in everything]
            metadata = {**bundle["metadata"], "release": label}
            payload = payload_of(label, bundle["rows"], metadata, digest, seen)
            if record_release(store, payload, seen) is not None:
                _recorded(
                    f"recorded {label} in the ledger at {store.named_url} ({len(outputs)} earlier releases of the same input)"
                )
                return
        raise InputError(
            f"other releases of this input kept being recorded in the ledger ({ATTEMPTS} tries); "
            "nothing was recorded: run it again"
        )
    finally:
        store.close()


@contextmanager
def _input(data: Path | None, digest: str, output: Path) -> Iterator[None]:
    """With --input: the file, hashed once for the whole release (`io.hashed_once`: reading it to link a
    --where takes that digest), refused in one line unless it is the file OUTPUT was audited from."""
    if data is None:
        yield
        return
    from misflag._text import shown
    from misflag.disclosure._check import _input_file
    from misflag.errors import InputError, literal
    from misflag.io._readers import hashed_once

    with hashed_once(_input_file(data)) as found:
        if found != digest:
            raise InputError(
                f"input {literal(shown(str(data)))} (sha256 {found}) is not the file output "
                f"{literal(shown(str(output)))} was audited from (sha256 {digest})"
            )
        yield


def _linked(
    releases: Releases, loaded: Output, earlier: list[Output], digest: str
) -> tuple[Output, list[Output]]:
    """OUTPUT and the earlier releases of its input (`digest`), each --where other than value lists
    linked by the cells it keeps on the --input file (`disclosure._where_cells`) and given the file's
    census (`disclosure._census`); InputError where one stays unlinked beside a release that withholds
    counts (its difference of totals would give them back), and, without the file, wherever one withholds:
    a grouping nested in another (or following the truth or a flag) is seen only on the census."""
    if not earlier:
        return loaded, earlier
    groups = tuple(dict.fromkeys([*loaded.groups, *(g for o in earlier for g in o.groups)]))
    loaded = releases.linked(loaded, digest, groups)
    earlier = [releases.linked(o, digest, groups) for o in earlier]
    withholding = [o.name for o in (loaded, *earlier) if any(r["suppressed"] for r in o.rows)]
    missing = "give --input FILE, the file OUTPUT was audited from"
    releases.refuse_unlinked([loaded, *earlier], withholding, groups, (loaded.name, "this output"), missing)
    if withholding and releases.source is None:
        from misflag._text import shown
        from misflag.errors import InputError, literal

        other = next((n for n in withholding if n != loaded.name), None)
        whose = (
            f"earlier release {literal(shown(other))}"
            if other is not None
            else f"this output (beside earlier release {literal(shown(earlier[0].name))})"
        )
        raise InputError(
            f"{whose} withholds counts, and without the input file a grouping nested in another release's "
            f"(or following the truth or a flag) is not seen: {missing}"
        )
    return loaded, earlier


def _refuse_if_exposed(
    loaded: Output, earlier: list[Output], label: str, min_cell: int, value: Callable[[Any], float | None]
) -> None:
    """Exit 3 with one line when OUTPUT and the earlier releases together expose a withheld count that
    OUTPUT does not expose on its own; `value` gives an earlier release's count as its audit knew it."""
    from misflag._text import printable
    from misflag.disclosure import audit_outputs
    from misflag.disclosure._goal import protection_level

    protection = protection_level(min_cell)
    audit = audit_outputs(
        [loaded, *earlier], protection, lambda target: value(target.rows), sensitive_below=min_cell
    )
    # what the output shows on its own its own audit judged, knowing the values (a count of 10 read as
    # 7 to 11 people): only what the earlier releases add is judged here
    alone = audit_outputs([loaded], protection, lambda target: float("nan"), sensitive_below=min_cell)
    own = {(row, round(i.low, 6), round(i.high, 6)) for i in alone.exposed for row in i.target.rows}
    exposed = [
        i
        for i in audit.exposed
        if not all((row, round(i.low, 6), round(i.high, 6)) in own for row in i.target.rows)
    ]
    if not exposed:
        return
    first = min(exposed, key=lambda i: i.width)
    names = sorted({row[0] for i in exposed for row in i.target.rows if row[0] != loaded.name})
    _, attribute, group, stage, metric, part = first.target.rows[0]
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        printable(
            f"error: {label} would expose {len(exposed)} withheld counts together with "
            f"earlier release(s) {', '.join(repr(n) for n in names) or '(none: on its own)'} (e.g. "
            f"{attribute} = {group}, {stage} {metric} {part}: {first.low:g} to {first.high:g} people); "
            "not recorded"
        ),
        markup=False,
    )
    raise typer.Exit(3)


def _recorded(message: str) -> None:
    from misflag._text import printable

    Console(highlight=False, soft_wrap=True).print(printable(message), markup=False)


def _people(count: float) -> str:
    """An interval's end as people: the solver's tolerance (7.6e-13 for an end at 0) is not shown as a
    count, and an end within a millionth of a whole number is that number."""
    nearest = round(count)
    return f"{nearest:d}" if abs(count - nearest) < 1e-6 else f"{count:.6g}"
