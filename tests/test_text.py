"""`misflag._text.shown`, the one way a message echoes a user's value: repr-quoted, printable, cut to a
stated length with its full length named. Every expected string below is written out by hand."""

from __future__ import annotations

import pytest

from misflag._text import SHOWN_LENGTH, clipped, shown
from misflag.errors import InputError, literal


def test_the_stated_length_is_forty_characters() -> None:
    assert SHOWN_LENGTH == 40


def test_a_ten_thousand_character_value_is_named_by_its_start_and_length() -> None:
    assert shown("ab" * 5000) == "'abababababababababababababababababababab...' (10,000 characters)"


def test_a_value_exactly_at_the_limit_is_shown_whole_and_one_more_is_cut() -> None:
    assert shown("x" * 40) == "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
    assert shown("x" * 41) == "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' (41 characters)"
    assert shown("abcd", 4) == "'abcd'"
    assert shown("abcde", 4) == "'abcd...' (5 characters)"


def test_esc_and_bidi_characters_are_escaped_never_sent_to_the_terminal() -> None:
    # ESC [2J clears the screen, OSC 52 writes the clipboard, U+202E reverses the text after it
    assert shown("\x1b[2J\x1b]52;c;Zm9v\x07\u202egnp.exe") == "'\\x1b[2J\\x1b]52;c;Zm9v\\x07\\u202egnp.exe'"
    assert shown("a\u2066b\u2069\u061c\u200f") == "'a\\u2066b\\u2069\\u061c\\u200f'"
    assert shown("line\nbreak\r") == "'line\\nbreak\\r'"  # one line, no carriage return
    assert shown("\ud800") == "'\\ud800'"  # a lone surrogate no terminal can encode


def test_a_long_value_of_control_characters_is_cut_by_its_own_characters() -> None:
    """The cut counts the value's characters (40 ESC), each then written as its 4-character escape."""
    assert shown("\x1b" * 10_000) == "'" + "\\x1b" * 40 + "...' (10,000 characters)"


def test_a_repr_that_carries_terminal_control_is_made_printable() -> None:
    class Sneaky:
        def __repr__(self) -> str:
            return "\x1b]52;c;Zm9v\x07"

    assert shown(Sneaky()) == "\u241b]52;c;Zm9v\u2407"  # ␛ and ␇, the control pictures


def test_numbers_and_other_values_are_cut_on_their_repr() -> None:
    assert shown(-3) == "-3"
    assert shown(None) == "None"
    assert shown(2.5) == "2.5"
    # "[0, 1, ..., 99]": 10 one-digit and 90 two-digit numbers, 99 separators ", " and 2 brackets = 390
    expected = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1... (390 characters)"
    assert shown(list(range(100))) == expected
    assert shown(10**50) == "1" + "0" * 39 + "... (51 characters)"


def test_a_whole_number_past_pythons_writing_limit_is_shown_from_arithmetic() -> None:
    """repr() refuses an int of more than 4,300 digits (ValueError); 10**5000 has 5,001 digits."""
    assert shown(10**5000) == "1" + "0" * 39 + "... (5,001 characters)"
    assert shown(-(10**5000 - 1)) == "-" + "9" * 39 + "... (5,001 characters)"  # 5,000 nines and a sign
    assert shown(7 * 10**6000 + 1) == "7" + "0" * 39 + "... (6,001 characters)"


def test_bytes_are_cut_before_quoting_and_counted_in_bytes() -> None:
    assert shown(b"\x00" * 50) == "b'" + "\\x00" * 40 + "...' (50 bytes)"
    assert shown(b"ok") == "b'ok'"


def test_clipped_names_the_length_of_a_long_run() -> None:
    assert clipped("short") == "short"
    assert clipped("9" * 1999) == "9" * 40 + "... (1,999 characters)"


def test_a_value_holding_a_placeholder_stays_as_written_in_an_error() -> None:
    """A value called `{flag}` must not be read as the parameter `flag` (the CLI would print --flag)."""
    error = InputError(f"{{threshold}} must be a number, not {literal(shown('{flag}'))}")
    assert error.render(lambda name: "--" + name) == "--threshold must be a number, not '{flag}'"


@pytest.mark.parametrize(
    ("value", "start", "length"),
    [("é" * 41, "é" * 40, "41"), ("日本" * 30, "日本" * 20, "60"), ("😀" * 41, "😀" * 40, "41")],
)
def test_the_length_counts_characters_not_bytes(value: str, start: str, length: str) -> None:
    """é is 2 bytes in UTF-8, 日 3 and 😀 4: the count is of characters."""
    assert shown(value) == f"'{start}...' ({length} characters)"
