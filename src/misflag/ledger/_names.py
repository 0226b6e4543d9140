"""Names and labels a person cannot be fooled by: NFKC text without hidden characters, compared by skeleton.

Actor names, token names, notice channels, reason codes and the other labels of an event end up in
rejections, listings, exports and audits. A zero-width space, a byte-order mark or a right-to-left override
makes two labels that look identical differ (or one label look like another), so such text is refused, and
text must be in Unicode NFKC form (fullwidth `ａlice` is written `alice`).

Two names are confusable when their skeletons meet (Unicode TR39, section 4): NFKC, then each character
replaced by its prototype from the TR39 confusables data (shipped by `confusable-homoglyphs`). A name has
two skeletons, with and without case folding first, so `Alice`/`alice` (case) and `Iris`/`lris` (capital I
looks like a small L) both collide.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache

from misflag._text import shown
from misflag.errors import LedgerError, literal
from misflag.ledger._event_rules import MAX_FIELD

# Invisible characters outside the refused categories: combining grapheme joiner, Hangul fillers, Khmer
# inherent vowels, Mongolian variation selectors, variation selectors (Unicode Default_Ignorable_Code_Point).
_IGNORABLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]"
)
# Control (Cc), format (Cf: zero-width, BOM, bidi marks and overrides), surrogate, private use, unassigned
# and line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ASCII_CONTROL = re.compile("[\x00-\x1f\x7f]")


def hidden_character(text: str) -> str | None:
    """The first control, invisible or bidi character in `text` (or a space other than U+0020), else None."""
    if text.isascii():
        found = _ASCII_CONTROL.search(text)
        return found.group() if found else None
    for char in text:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or (category == "Zs" and char != " ") or _IGNORABLE.match(char):
            return char
    return None


@lru_cache(maxsize=8192)
def label_problem(text: str) -> str | None:
    """Why `text` is not an acceptable name or label (one phrase), or None when it is.

    Cached per text: the same actors, rule ids and channels come back in event after event."""
    hidden = hidden_character(text)
    if hidden is not None:
        name = unicodedata.name(hidden, "unnamed")
        return f"holds a control, invisible or bidi character U+{ord(hidden):04X} ({name})"
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        return f"is not in Unicode NFKC form (write {literal(shown(unicodedata.normalize('NFKC', text)))})"
    if text != text.strip():
        return "starts or ends with a space"
    return None


@lru_cache(maxsize=8192)
def mixed_script_problem(text: str) -> str | None:
    """Why a label (channel, reason code, action, group value) could pass for another, or None: it mixes
    scripts with characters confusable across them (TR39 mixed-script confusables, as `confusable-
    homoglyphs` detects them), like `mаil` with a Cyrillic `а`. Text in one script (`почта`) passes."""
    if text.isascii():
        return None
    from confusable_homoglyphs import confusables

    if not confusables.is_dangerous(text):
        return None
    return "mixes scripts with look-alike characters (it can pass for another label): write it in one script"


def nfkc(text: str) -> str:
    """`text` in NFKC form (ASCII text is returned as is)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


@cache
def _prototypes() -> dict[str, str]:
    """Character -> TR39 prototype, from the confusables data (which wraps right-to-left text in LRM marks).

    The data lists, for a source character, its prototype, and for a prototype, its sources. A pair that
    only lists each other is ambiguous; both then map to the smaller code point, which keeps skeletons equal.
    """
    from confusable_homoglyphs.confusables import confusables_data

    def bare(text: str) -> str:
        return text.replace("\u200e", "")

    pairs = {bare(key): [bare(glyph["c"]) for glyph in glyphs] for key, glyphs in confusables_data.items()}
    prototypes: dict[str, str] = {}
    for char, glyphs in pairs.items():
        if len(char) != 1 or len(glyphs) != 1 or not glyphs[0]:
            continue  # a prototype of several characters, or of several sources
        target = glyphs[0]
        if len(target) == 1 and pairs.get(target) == [char]:
            if char > target:
                prototypes[char] = target
        else:
            prototypes[char] = target
    return prototypes


def _mapped(text: str) -> str:
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototypes.get(char, char) for char in decomposed))


@lru_cache(maxsize=8192)
def skeletons(name: str) -> frozenset[str]:
    """The TR39 skeletons of a name, as typed and case-folded; hidden characters and edge spaces dropped."""
    shown = "".join(char for char in nfkc(name) if hidden_character(char) is None).strip()
    folded = nfkc(shown.casefold())
    return frozenset({_mapped(shown), _mapped(folded)})


def confusable_with(name: str, existing: Iterable[str]) -> str | None:
    """The first name in `existing` that `name` can be mistaken for (identical included), else None."""
    mine = skeletons(name)
    return next((other for other in existing if mine & skeletons(other)), None)


def new_name(name: object, existing: Iterable[str], what: str = "token name") -> str:
    """`name` as NFKC text, checked: 1-128 characters, nothing hidden, not confusable with `existing`."""
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise LedgerError(f"a {what} must be 1-128 characters (it is the actor of its events)")
    name = nfkc(name)
    problem = label_problem(name)
    if problem:
        raise LedgerError(f"{what} {literal(shown(name))} {problem}")
    taken = set(existing)
    if name in taken:
        raise LedgerError(f"{what} {literal(shown(name))} exists already (names are unique; pick another)")
    other = confusable_with(name, taken)
    if other is not None:
        raise LedgerError(
            f"{what} {literal(shown(name))} can be mistaken for the existing {literal(shown(other))}; pick a distinct name"
        )
    return name


class _PlainLabels(dict[str, bool]):
    """Whether each text is a plain label: 1 to `limit` characters of printable ASCII, no space at either
    end. Every label check accepts such text (for it, `label_problem` reduces to an edge space and
    `mixed_script_problem` to nothing), decided here in C; other text goes to the full checks. With
    `keep`, each plain text is remembered (the events of a batch mostly share their actor, rule ids and
    group values), so that `lookup.get(text) or lookup.decide(text)` is then one dict access."""

    limit = 0
    keep = True

    def decide(self, text: str) -> bool:
        plain = (
            0 < len(text) <= self.limit
            and text.isascii()
            and text.isprintable()
            and text[0] != " "
            and text[-1] != " "
        )
        if plain and self.keep:
            self[text] = True
        return plain


class _Names(_PlainLabels):
    limit = 128  # actor names and token ids


class _Fields(_PlainLabels):
    limit = MAX_FIELD  # a payload's required text fields


class _Values(_PlainLabels):
    limit = 64  # group values


class Labels:
    """The plain-label lookups of one batch, by the limit each field has: actor names and token ids, the
    payload's required text fields, and group values. Callers look up exact `str` only (checked first), so
    a str subclass equal to a known label cannot stand in for it. Made per batch, nothing outlives it;
    without `keep` nothing is kept (one event alone, or a shared instance)."""

    __slots__ = ("fields", "names", "values")

    def __init__(self, *, keep: bool = True) -> None:
        self.names, self.fields, self.values = _Names(), _Fields(), _Values()
        if not keep:
            for lookup in (self.names, self.fields, self.values):
                lookup.keep = False
