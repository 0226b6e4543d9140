"""`misflag demo`: the COMPAS audit as in ProPublica's error-rate table."""

from __future__ import annotations


def demo() -> None:
    """Run the COMPAS audit on the bundled real data."""
