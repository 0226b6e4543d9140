"""`misflag decisions audit ...` as typed, read before typer loads, so the console script starts the scan
early: DuckDB then reads the file while typer and the command's modules import (about 50 ms of one core
that would otherwise come before the scan; docs/scale.md).

This is a guess, never an answer: the words are read only as far as they plainly name a spec's options,
and anything else (another option, `--settings`, `--counts-form`, a register or ledger, a `--prevalence`
file, another engine) starts nothing. The command parses its options with typer as always, and the audit
takes the scan only if it asks for exactly this one: the same spec (every field equal), source, engine
and table (`decisions._audit.take_prefetched`); otherwise the scan is stopped and its engine closed.
A guess that fails (a missing file, a refused expression) is dropped without a word: the command then
fails at the same step, with its own message.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import Field, fields
from typing import Any, get_args, get_origin, get_type_hints

from misflag.decisions._counts import all_plain_names
from misflag.decisions._spec import DecisionSpec, option_flag

#: The command's own options that take a value and leave the scan as it is (what it prints, where).
_OUTPUT_OPTIONS = frozenset({"--format", "--save", "--report", "--pdf"})

#: The command's options that name where the scan runs, by the keyword `run_audit` takes.
_WHERE_OPTIONS = {"--engine": "engine", "--table": "table"}

#: Fields whose options open something named by the user (a register, a ledger, a file): never guessed.
_NOT_GUESSED = frozenset({"prevalence", "release_register", "protect_releases", "ledger"})

#: Converters of an option's text by the field's type; a field of another type is never guessed.
_CONVERT: dict[Any, Callable[[str], Any]] = {str: str, int: int, float: float}


class _NoGuess(Exception):
    """The words are not a plain decision audit: nothing is started."""


def prefetch(argv: Sequence[str]) -> None:
    """Start the scan that `decisions audit` with `argv` (the words after `audit`) would start, if they
    plainly name it; any problem leaves it to the command."""
    from misflag._console import quiet_sqlglot
    from misflag.decisions._audit import prefetch_scan

    try:  # any failure is the command's to report, at the same step, in its own words
        spec, source, where = guess(argv)
        if where.get("engine", "duckdb") != "duckdb" or source.startswith(("postgresql://", "postgres://")):
            return  # Spark starts slowly and PostgreSQL is read over the network: left to the command
        if not all_plain_names(spec):  # a parsed expression logs what the command line silences
            quiet_sqlglot()
        with warnings.catch_warnings(action="error"):  # a warning is the command's to show: no guess
            prefetch_scan(spec, source, where.get("table"))
    except Exception:  # not KeyboardInterrupt: a Ctrl-C here ends the command
        return


def guess(argv: Sequence[str]) -> tuple[DecisionSpec, str, dict[str, str]]:
    """The spec, source and engine options (`--engine`, `--table`) the words name; `_NoGuess` where they
    hold anything else, the converter's or the spec's own error where a value does not convert or the
    spec refuses it."""
    by_flag = {option_flag(f): f for f in fields(DecisionSpec) if f.name not in _NOT_GUESSED}
    hints = get_type_hints(DecisionSpec)
    given: dict[str, Any] = {}
    where: dict[str, str] = {}
    positional: list[str] = []
    words = iter(argv)
    for word in words:
        if not word.startswith("-"):
            positional.append(word)
            continue
        flag, equals, text = word.partition("=")
        spec_field = by_flag.get(flag)
        if spec_field is not None and hints[spec_field.name] is bool:
            if equals:
                raise _NoGuess(word)
            given[spec_field.name] = True
            continue
        if spec_field is None and flag not in _OUTPUT_OPTIONS and flag not in _WHERE_OPTIONS:
            raise _NoGuess(word)  # --settings, --counts-form, --help, --, a short option, a typo
        value = text if equals else next(words, None)
        if value is None:
            raise _NoGuess(word)
        if spec_field is not None:
            _add(given, spec_field, hints[spec_field.name], value)
        elif flag in _WHERE_OPTIONS:
            where[_WHERE_OPTIONS[flag]] = value
    if len(positional) != 1:
        raise _NoGuess(positional)
    values = {f.name: _finished(f, given[f.name]) for f in fields(DecisionSpec) if f.name in given}
    return DecisionSpec(**values), positional[0], where


def _add(given: dict[str, Any], spec_field: Field[Any], hint: Any, text: str) -> None:
    """One option's value, converted as its field's type says: a repeatable option's values collected."""
    args = get_args(hint)
    if get_origin(hint) is tuple and args[-1] is Ellipsis:
        given.setdefault(spec_field.name, []).append(_CONVERT.get(args[0], str)(text))
        return
    single = [arg for arg in args if arg is not type(None)] if args else [hint]
    if len(single) != 1 or single[0] not in _CONVERT or "text" in spec_field.metadata:
        raise _NoGuess(spec_field.name)
    given[spec_field.name] = _CONVERT[single[0]](text)


def _finished(spec_field: Field[Any], value: Any) -> Any:
    """A field's value as the command makes it from its option: its own `parse`, a list as a tuple."""
    parse = spec_field.metadata.get("parse")
    if parse is not None:
        return parse(value)
    return tuple(value) if isinstance(value, list) else value
