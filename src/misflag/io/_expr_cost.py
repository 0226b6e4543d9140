"""What an expression may cost, bounded from its tree before it runs: text growth and LIKE patterns.

Two constructs cost far more than their text suggests. `replace(x, 'a', 'aaaaaaaaaa')` makes text ten
times longer, and nine of them nested turn a 3-character value into 3 GB inside the engine, where
DuckDB's memory limit does not reach (the issue's 249-character expression). And Spark runs LIKE as a
Java regular expression, which backtracks: `'%a%a%a%a%a%a%a%b'` takes minutes on one long value.
Both are bounded here from the parsed tree, on every engine, so the same expression is refused
everywhere with one line naming the function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from sqlglot import exp

#: Most replace() calls that grow text which may nest inside one another.
MAX_GROWTH_NESTING = 2
#: Most times longer than its longest input value any text in an expression may become.
MAX_GROWTH = 16
#: Most characters a text built only from literals may reach.
MAX_CONSTANT = 65_536
#: Most `%` wildcards in one LIKE/ILIKE pattern: Spark makes each a backtracking `.*` (cost ~ length ** count).
MAX_LIKE_PERCENT = 2
#: Longest LIKE/ILIKE pattern, in characters.
MAX_LIKE_LENGTH = 200

#: Text functions that repeat or pad text by a count; never needed by an audit or a comparison.
_REPEATING: dict[type[exp.Expr], str] = {exp.Repeat: "repeat", exp.Pad: "lpad/rpad"}
_CONCATENATING = (exp.DPipe, exp.Concat, exp.ConcatWs)


@dataclass(frozen=True)
class _Size:
    """A bound on a node's text length: `scale` times the longest input value plus `constant` characters;
    `nesting` counts the growing replace() calls on the way down."""

    scale: float = 0.0
    constant: float = 0.0
    nesting: int = 0


def cost_problem(tree: exp.Expr) -> str | None:
    """What makes the expression too costly to run, in words (None when it is within the bounds).

    The tree is walked without recursion: children are sized before their parents.
    """
    sizes: dict[int, _Size] = {}
    for node in reversed(list(tree.walk())):
        problem = like_problem(node)
        if problem:
            return problem
        if type(node) in _REPEATING:
            return f"{_REPEATING[type(node)]}() (it multiplies text)"
        children = [sizes.pop(id(child), _Size()) for child in node.iter_expressions()]
        size = _size(node, children)
        if isinstance(size, str):
            return size
        if size.nesting > MAX_GROWTH_NESTING:
            return (
                f"replace() nested {size.nesting} deep (at most {MAX_GROWTH_NESTING} text-growing calls nest)"
            )
        name = "replace()" if isinstance(node, exp.Replace) else "text concatenation"
        if size.scale > MAX_GROWTH:
            return f"{name} that can make text {size.scale:g}-fold longer (at most {MAX_GROWTH}-fold)"
        if size.constant > MAX_CONSTANT:
            return f"{name} that can build {size.constant:,.0f} characters of text (at most {MAX_CONSTANT:,})"
        sizes[id(node)] = size
    return None


def _size(node: exp.Expr, children: list[_Size]) -> _Size | str:
    """The bound on one node's text from its children's bounds (or the problem, in words)."""
    if isinstance(node, exp.Column):
        return _Size(scale=1.0)
    if isinstance(node, exp.Literal):
        return _Size(constant=float(len(node.name)))
    nesting = max((c.nesting for c in children), default=0)
    if isinstance(node, _CONCATENATING):
        return _Size(sum(c.scale for c in children), sum(c.constant for c in children), nesting)
    if isinstance(node, exp.Replace):
        search, replacement = node.expression, node.args.get("replacement")
        if not (_is_text(search) and _is_text(replacement)):
            return "replace() with a search or replacement that is not quoted text"
        factor = len(replacement.name) / max(len(search.name), 1)
        source = children[0] if children else _Size()
        if factor <= 1:
            return _Size(source.scale, source.constant, source.nesting)
        return _Size(source.scale * factor, source.constant * factor, source.nesting + 1)
    return _Size(
        max((c.scale for c in children), default=0.0),
        max((c.constant for c in children), default=0.0),
        nesting,
    )


def _is_text(node: exp.Expr | None) -> TypeGuard[exp.Literal]:
    return isinstance(node, exp.Literal) and node.is_string


def like_problem(node: exp.Expr) -> str | None:
    """A LIKE/ILIKE pattern must be quoted text with few `%` (Spark backtracks on each one)."""
    if not isinstance(node, (exp.Like, exp.ILike)):
        return None
    pattern = node.expression
    if not _is_text(pattern):
        return "a LIKE pattern that is not quoted text"
    if len(pattern.name) > MAX_LIKE_LENGTH:
        return f"a LIKE pattern of {len(pattern.name)} characters (at most {MAX_LIKE_LENGTH})"
    wildcards = pattern.name.count("%")
    if wildcards > MAX_LIKE_PERCENT:
        return f"a LIKE pattern with {wildcards} % wildcards (at most {MAX_LIKE_PERCENT})"
    return None
