"""What every published figure withheld for disclosure says, in every audit.

One reason for all of them, whichever rule withheld the figure (under `min_cell`, or withheld so that
another cannot be given back): a reason naming its rule tells a reader which counts are small and pins
them (docs/disclosure.md). A module of its own so that the biometric audit and the monitor can use it
without loading the decision audit.
"""

from __future__ import annotations


def public_reason(min_cell: int) -> str:
    """The one published reason of every figure withheld for disclosure, whichever rule withheld it."""
    return (
        f"suppressed: withheld for disclosure control (--min-cell {min_cell}): a small count, "
        "or a figure that would give one back"
    )
