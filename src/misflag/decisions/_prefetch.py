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
from dataclasses import MISSING, Field
from typing import Any, get_args, get_origin, get_type_hints

from misflag._spec_options import option_flag, spec_values, user_fields
from misflag.decisions._counts import all_plain_names
from misflag.decisions._spec import DecisionSpec

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
    named = [f for f in user_fields(DecisionSpec) if f.name not in _NOT_GUESSED]
    by_flag = {flag: f for f in named for flag in (option_flag(f), *f.metadata.get("aliases", ()))}
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
    options = {
        f.name: given[f.name] if f.name in given else _omitted(f, hints[f.name])
        for f in user_fields(DecisionSpec)
    }
    return DecisionSpec(**spec_values(DecisionSpec, options)), positional[0], where


def _repeated(hint: Any) -> Any:
    """The item type of a repeatable option's field (`tuple[X, ...]`); None for any other field."""
    args = get_args(hint)
    return args[0] if get_origin(hint) is tuple and args[-1] is Ellipsis else None


def _add(given: dict[str, Any], spec_field: Field[Any], hint: Any, text: str) -> None:
    """One option's value, converted as its field's type says: a repeatable option's values collected."""
    item = _repeated(hint)
    if item is not None:
        given.setdefault(spec_field.name, []).append(_CONVERT.get(item, str)(text))
        return
    args = get_args(hint)
    single = [arg for arg in args if arg is not type(None)] if args else [hint]
    if len(single) != 1 or single[0] not in _CONVERT or "text" in spec_field.metadata:
        raise _NoGuess(spec_field.name)
    given[spec_field.name] = _CONVERT[single[0]](text)


def _omitted(spec_field: Field[Any], hint: Any) -> Any:
    """An option not given, as typer hands it to the command (`_spec_options`' defaults): a repeatable
    one as an empty list, a field given as text as its typed default, a required one as None."""
    if _repeated(hint) is not None:
        return []
    if "text" in spec_field.metadata:
        return spec_field.metadata["text"]
    return None if spec_field.default is MISSING else spec_field.default
