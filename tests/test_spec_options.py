"""Each audit's options are generated from its spec (misflag._spec_options): every field of DecisionSpec,
BiometricSpec, MonitorSpec and LinkageAuditSpec is one option of its command with the field's flag and help (but for the
fields listed here as no user's option), and every option of the command is a field or one of the few the
command writes itself (listed here by hand), so a field added later cannot be missing from the command
line, nor an option be written twice."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from misflag._spec_options import each, option, parse_stage, spec_values, with_spec_options
from misflag.api._workbench import AUDITS
from misflag.biometrics import BiometricSpec
from misflag.cli import SUBCOMMANDS, _load, main
from misflag.decisions import DecisionSpec
from misflag.errors import InputError
from misflag.linkage import LinkageAuditSpec
from misflag.monitor import MonitorSpec

#: (words of the command, its spec, the options the command writes itself: source, engine, outputs...)
COMMANDS: list[tuple[tuple[str, ...], type, set[str]]] = [
    (
        ("decisions", "audit"),
        DecisionSpec,
        {"source", "engine", "table", "settings", "counts_form", "output_format", "save", "report", "pdf"},
    ),
    (
        ("biometrics", "audit"),
        BiometricSpec,
        {"source", "engine", "table", "settings", "output_format", "save", "report", "pdf"},
    ),
    (
        ("monitor",),
        MonitorSpec,
        {
            "source",
            "state",
            "ledger",
            "ledger_key",
            "engine",
            "table",
            "output_format",
            "save",
            "report",
            "pdf",
        },
    ),
    (
        ("linkage", "audit"),
        LinkageAuditSpec,
        {"pairs", "records", "labels", "settings", "output_format", "save", "report", "pdf"},
    ),
]
#: Spec fields that are no user's option: the linkage audit reads its blocking rules from --settings.
NOT_OPTIONS = {"blocking_rules"}
IDS = [" ".join(words) for words, _, _ in COMMANDS]


def click_command(words: tuple[str, ...]) -> Any:
    """The click command the console script runs for `misflag WORDS`."""
    command = _load(words[0], SUBCOMMANDS[words[0]])
    return command.commands[words[1]] if len(words) > 1 else command


def user_fields(spec: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(spec) if f.name not in NOT_OPTIONS]


def expected_flag(spec_field: dataclasses.Field[Any]) -> str:
    return str(spec_field.metadata.get("flag") or "--" + spec_field.name.replace("_", "-"))


@pytest.mark.parametrize(("words", "spec", "own"), COMMANDS, ids=IDS)
def test_every_field_is_one_option_with_its_flag_and_help(
    words: tuple[str, ...], spec: type, own: set[str]
) -> None:
    params = click_command(words).params
    for spec_field in user_fields(spec):
        matching = [p for p in params if p.name == spec_field.name]
        assert len(matching) == 1, spec_field.name
        param = matching[0]
        assert param.param_type_name == "option"
        assert param.opts[0] == expected_flag(spec_field)
        assert param.secondary_opts == ([spec_field.metadata["off"]] if "off" in spec_field.metadata else [])
        assert param.help == spec_field.metadata["help"]
        # the command line requires a field only where its metadata says so (else --settings may give it)
        assert param.required == bool(spec_field.metadata.get("required"))


@pytest.mark.parametrize(("words", "spec", "own"), COMMANDS, ids=IDS)
def test_every_option_is_a_field_or_the_commands_own_and_no_flag_is_written_twice(
    words: tuple[str, ...], spec: type, own: set[str]
) -> None:
    params = click_command(words).params
    names = [p.name for p in params]
    assert sorted(names) == sorted({f.name for f in user_fields(spec)} | own)
    flags = [flag for p in params for flag in (*p.opts, *p.secondary_opts)]
    assert len(flags) == len(set(flags))


@pytest.mark.parametrize(("words", "spec", "own"), COMMANDS, ids=IDS)
def test_an_options_default_is_its_fields(words: tuple[str, ...], spec: type, own: set[str]) -> None:
    params = {p.name: p for p in click_command(words).params}
    for spec_field in user_fields(spec):
        default = params[spec_field.name].default
        if spec_field.default is dataclasses.MISSING:
            assert default is None, spec_field.name
        elif isinstance(spec_field.default, tuple) and spec_field.name != "band":
            assert tuple(default or ()) == spec_field.default, spec_field.name
        else:
            assert default == spec_field.default or (spec_field.name, default) == ("band", "0.8,1.25")


def test_help_lists_the_options_in_the_order_it_always_did() -> None:
    """The order of each help screen before the options were generated, written out by hand."""
    monitor = ["source", "time", "flag", "stages", "truth", "group", "reference", "metrics", "band", "alpha"]
    monitor += ["period", "weight", "reviewer_pool", "where", "horizon", "baseline_periods", "min_cell"]
    monitor += ["late_periods", "evidence", "release_register", "protect_releases", "state", "ledger"]
    monitor += ["ledger_key", "engine", "table", "output_format", "save"]
    assert [p.name for p in click_command(("monitor",)).params] == [*monitor, "report", "pdf"]
    linkage = ["pairs", "records", "id_column", "cluster_column", "source_column", "labels", "groups"]
    linkage += [
        "thresholds",
        "settings",
        "probabilities",
        "min_cell",
        "release_register",
        "protect_releases",
        "output_format",
        "save",
        "report",
        "pdf",
    ]
    assert [p.name for p in click_command(("linkage", "audit")).params] == linkage
    names = [p.name for p in click_command(("biometrics", "audit")).params]
    assert names[:3] == ["source", "score", "genuine"]
    assert names[names.index("seed") :] == [
        "seed", "engine", "table", "settings", "release_register", "protect_releases", "ledger",
        "output_format", "save", "report", "pdf",
    ]  # fmt: skip
    genuine = next(p for p in click_command(("biometrics", "audit")).params if p.name == "genuine")
    assert genuine.opts == ["--genuine", "--mated"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decisions", "audit", "log.csv", "--flag", "f"], "--truth is required"),
        (["biometrics", "audit", "s.csv", "--genuine", "g", "--threshold", "0.5"], "--score is required"),
        (["monitor", "log.csv", "--group", "g", "--reference", "A", "--flag", "f"], "--time is required"),
        (["monitor", "log.csv", "--time", "t", "--group", "g", "--reference", "A"], "give the decision"),
        (["monitor", "log.csv", "--time", "t", "--group", "g"], "Missing option '--reference'"),
        (
            ["monitor", "log.csv", "--band", "0.8", "--time", "t", "--group", "g", "--reference", "A"],
            "--band",
        ),
    ],
)
def test_a_missing_or_bad_option_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err and "Traceback" not in err


def test_the_workbench_form_keeps_its_field_names_and_reads_the_spec_help() -> None:
    """The monitor page posts `stage` and `metric`, the linkage page `truth` and `threshold`, as before;
    each is the option generated from the spec field behind that flag, with its help."""
    form = {f.name: f for f in AUDITS["monitor"].fields()}
    for name, spec_name in (("stage", "stages"), ("metric", "metrics")):
        spec_field = MonitorSpec.__dataclass_fields__[spec_name]
        assert (form[name].flag, form[name].help, form[name].kind) == (
            "--" + name,
            spec_field.metadata["help"],
            "list",
        )
    assert form["band"].default == "0.8,1.25"
    linkage = {f.name: f for f in AUDITS["linkage-audit"].fields()}
    truth = LinkageAuditSpec.__dataclass_fields__["cluster_column"].metadata["help"]
    assert (linkage["truth"].flag, linkage["truth"].help) == ("--truth", truth)
    assert (linkage["probabilities"].flag, linkage["probabilities"].off_flag) == (
        "--probabilities",
        "--raw-scores",
    )
    assert linkage["threshold"].default == [0.9]


@dataclass(frozen=True)
class _Toy:
    name: str = field(metadata=option("A name."))
    pairs: tuple[tuple[str, str], ...] = field(
        default=(),
        metadata=option("K=V (repeatable).", "--pair", parse=each(lambda text: tuple(text.split("=")))),
    )
    sizes: tuple[int, ...] = field(default=(), metadata=option("Sizes.", "--size"))
    span: tuple[float, float] = field(
        default=(1.0, 2.0),
        metadata=option("LOW,HIGH.", parse=lambda text: tuple(map(float, text.split(","))), text="1,2"),
    )
    note: str = "set by the command, not given"
    switch: bool = field(default=True, metadata=option("On or off.", off="--no-switch"))


def _toy(source: str, out: str = typer.Option("-", "--out", help="Where."), **options: Any) -> None:
    """Echo the spec's values."""
    typer.echo(repr(spec_values(_Toy, options)))


def test_generated_options_parse_convert_and_refuse_as_the_metadata_says() -> None:
    app = typer.Typer(add_completion=False)
    app.command()(with_spec_options(_toy, _Toy, order=("span", "name"), after={"sizes": "out"}))
    command = typer.main.get_command(app)
    # span and name swap places; sizes and what follows it go after --out; note is no option
    names = ["source", "span", "pairs", "out", "sizes", "name", "switch"]
    assert [p.name for p in command.params] == names
    argv = ["x", "--name", "n", "--pair", "a=b", "--pair", "c=d", "--size", "3", "--no-switch"]
    run = CliRunner().invoke(app, argv)
    assert run.exit_code == 0, run.output
    expected: dict[str, Any] = {"name": "n", "pairs": (("a", "b"), ("c", "d")), "sizes": (3,)}
    expected |= {"span": (1.0, 2.0), "switch": False}
    assert run.output.strip() == repr(expected)
    with pytest.raises(InputError, match=r"^--name is required: A name\.$"):
        spec_values(_Toy, {"name": None, "pairs": [], "sizes": [], "span": "1,2", "switch": True})
    given: dict[str, Any] = {"name": None, "pairs": [], "sizes": [], "span": "0,5", "switch": True}
    values = {"name": None, "pairs": (), "sizes": (), "span": (0.0, 5.0), "switch": True}
    assert spec_values(_Toy, given, unchecked=("name",)) == values


@pytest.mark.parametrize("text", ["a=b=c", " a = b=c ", "a=  b=c"])
def test_a_stage_splits_at_its_first_equals_sign(text: str) -> None:
    assert parse_stage(text) == ("a", "b=c")


@pytest.mark.parametrize("text", ["flagged", "=flagged", "review=", " = "])
def test_a_stage_without_a_name_or_an_expression_is_refused(text: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_stage(text)
    assert str(raised.value) == f"stages must be NAME=EXPR, got {text!r}"


def test_the_decision_audit_and_the_monitor_parse_stages_alike() -> None:
    from misflag.decisions import parse_stage as decisions_stage
    from misflag.monitor import parse_stage as monitor_stage

    assert decisions_stage is monitor_stage is parse_stage
