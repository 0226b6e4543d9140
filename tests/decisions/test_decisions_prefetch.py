"""The console script's early scan (`decisions._prefetch`): the words of `decisions audit ...` read before
typer loads. The spec they give is checked against the one typer's own parse hands the audit (in
process, through `misflag.cli.main`); words that are not a plain audit start nothing; a scan started for
another audit is never used; and the console script prints, byte for byte, what `main` prints."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

import misflag.decisions._audit as audit_module
from misflag.cli import main
from misflag.decisions import DecisionSpec, run_audit
from misflag.decisions._prefetch import _NoGuess, guess, prefetch


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    rows = ["1,0,a,x,0.9", "0,1,b,y,0.2", "1,1,a,y,0.7", "0,0,b,x,0.1", "1,0,NA,x,0.6"]
    path.write_text("flag,truth,g,h,score\n" + "\n".join(rows * 12) + "\n")
    return path


def _words(log: Path, tmp_path: Path) -> list[list[str]]:
    """Command lines as users type them: options before and after the file, `--x=value`, repeats."""
    return [
        [str(log), "--flag", "flag", "--truth", "truth", "--group", "g", "--min-cell", "5", "--format", "json"],
        ["--truth=truth", str(log), "--flag=flag", "--group", "g", "--group", "h", "--intersect",
         "--replicates", "200", "--min-cell", "5", "--format", "csv"],
        [str(log), "--stage", "algorithm=flag", "--stage", "review=flag = 1 AND score > 0.5", "--truth", "truth",
         "--group", "g", "--min-cell", "5", "--format", "json"],
        [str(log), "--flag", "flag", "--truth", "truth", "--group", "g", "--where", "h <> 'z'", "--reference",
         "a", "--target-fpr", "0.1", "--seed", "3", "--min-cell", "5", "--save", str(tmp_path / "out.json")],
        [str(log), "--flag", "flag", "--truth", "truth", "--group", "g", "--missing-value", "NA",
         "--impact-ratio-min-share", "0.02", "--min-cell", "5", "--min-cell", "6", "--format", "json"],
    ]  # fmt: skip


def test_the_guess_is_the_spec_typer_parses(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[tuple[Any, ...]] = []

    def record(*key: Any) -> None:  # what the command's audit asks for, scanned as usual
        asked.append(key)

    monkeypatch.setattr(audit_module, "take_prefetched", record)
    for words in _words(log, tmp_path):
        assert main(["decisions", "audit", *words]) == 0, capsys.readouterr().err
        spec, source, where = guess(words)
        assert asked.pop() == (spec, source, "duckdb", None)
        assert where == {}
    capsys.readouterr()
    spec, source, where = guess([*_words(log, tmp_path)[0], "--engine", "duckdb", "--table", "t"])
    assert where == {"engine": "duckdb", "table": "t"}


@pytest.mark.parametrize(
    "extra",
    [
        ["--settings", "settings.json"],
        ["--counts-form", "selection"],
        ["--help"],
        ["--ledger", "ledger.sqlite"],
        ["--protect-releases"],
        ["--release-register", "register.json"],
        ["--prevalence", "a=0.1"],
        ["--unknown", "1"],
        ["second.csv"],
        ["--intersect=yes"],
        ["-x"],
        ["--"],
        ["--group"],  # a value missing at the end
    ],
)
def test_other_words_start_nothing(log: Path, extra: list[str]) -> None:
    words = [str(log), "--flag", "flag", "--truth", "truth", "--min-cell", "5", *extra]
    with pytest.raises(_NoGuess):
        guess(words)
    prefetch(words)
    assert audit_module._prefetched == []


@pytest.mark.parametrize(
    "words",
    [
        ["missing.csv", "--flag", "flag", "--truth", "truth"],  # the command says the file is missing
        ["{log}", "--flag", "nope", "--truth", "truth"],  # the command says which column is unknown
        ["{log}", "--flag", "flag", "--truth", "truth", "--replicates", "0"],  # the spec refuses it
        ["{log}", "--flag", "flag", "--truth", "truth", "--replicates", "many"],
        ["{log}", "--flag", "flag", "--truth", "truth", "--engine", "spark"],
        ["postgresql://user@localhost/db", "--table", "t", "--flag", "flag", "--truth", "truth"],
    ],
)
def test_a_guess_that_cannot_start_starts_nothing(log: Path, words: list[str]) -> None:
    prefetch([word.format(log=log) for word in words])
    assert audit_module._prefetched == []


def _counting_starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    start = audit_module._start
    monkeypatch.setattr(audit_module, "_start", lambda *args: (calls.append(1), start(*args))[1])
    return calls


def test_the_audit_takes_its_own_scan_and_closes_another(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = DecisionSpec(truth="truth", flag="flag", groups=("g",), min_cell=5, replicates=200)
    fresh = run_audit(spec, str(log)).table
    starts = _counting_starts(monkeypatch)
    audit_module.prefetch_scan(spec, str(log), None)
    assert run_audit(spec, str(log)).table.equals(fresh)
    assert starts == [1]  # the prefetch's only: the audit took it
    assert audit_module._prefetched == []

    audit_module.prefetch_scan(spec, str(log), None)
    ((_, other),) = audit_module._prefetched
    wider = dataclasses.replace(spec, intersect=True, groups=("g", "h"))
    run_audit(wider, str(log))
    assert starts == [1, 1, 1]  # the audit started its own
    with pytest.raises(duckdb.ConnectionException):  # the other scan's engine is closed
        other.runner.connection.execute("SELECT 1")
    assert audit_module._prefetched == []


#: The console script as installed, reporting at exit how many scans were started (`_start`), with the
#: guess's replicates changed where asked (a scan for another audit than the one the command runs).
CONSOLE = (
    "import atexit, dataclasses, sys; sys.argv = ['misflag', *{argv!r}]; "
    "import misflag.decisions._audit as a, misflag.decisions._prefetch as p; starts = []; start = a._start; "
    "a._start = lambda *args: (starts.append(1), start(*args))[1]; "
    "guessed = p.guess; "
    "p.guess = (lambda words: (lambda s, src, w: (dataclasses.replace(s, replicates=300), src, w))(*guessed(words))) "
    "if {other!r} else guessed; "
    "atexit.register(lambda: sys.stderr.write(f'STARTS:{{len(starts)}}')); "
    "from misflag._console import run; run()"
)


def _console(argv: list[str], other: bool = False) -> subprocess.CompletedProcess[str]:
    code = CONSOLE.format(argv=argv, other=other)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_console_script_prints_what_main_prints(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for words in _words(log, tmp_path)[:3]:
        argv = ["decisions", "audit", *words]
        assert main(argv) == 0
        in_process = capsys.readouterr().out
        taken = _console(argv)
        assert taken.returncode == 0, taken.stderr
        assert taken.stdout == in_process
        assert taken.stderr.endswith("STARTS:1")  # the scan started before typer loaded, and taken
        other = _console(argv, other=True)
        assert other.returncode == 0, other.stderr
        assert other.stdout == in_process  # a scan for another audit is not used
        assert other.stderr.endswith("STARTS:2")


def test_a_command_refused_after_its_scan_started_is_one_line(log: Path) -> None:
    argv = ["decisions", "audit", str(log), "--flag", "flag", "--truth", "truth", "--format", "bogus"]
    done = _console(argv)
    assert done.returncode == 2
    message, starts = done.stderr.rsplit("STARTS:", 1)
    assert starts == "1"  # the scan had started; it is stopped and closed at exit
    assert message.startswith("error: ") and message.count("\n") == 1, message
