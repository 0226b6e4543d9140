"""Published audits reproduced from their own published numbers (docs/gallery/).

Each page is a function returning its checks (a published figure beside misflag's, with the
denominator and whether it follows to the printed digit) and its sources; `python -m misflag.gallery
NAME` prints them.
"""

from __future__ import annotations

from collections.abc import Callable

from misflag.gallery._checks import Check, render
from misflag.gallery._compas import compas_checks
from misflag.gallery._crosscheck import crosscheck_checks
from misflag.gallery._everify import everify_checks
from misflag.gallery._ll144 import ll144_checks
from misflag.gallery._rfw import rfw_checks

PAGES: dict[str, Callable[[], tuple[list[Check], list[str]]]] = {
    "everify": everify_checks,
    "ll144": ll144_checks,
    "compas": compas_checks,
    "rfw": rfw_checks,
    "crosscheck": crosscheck_checks,
}

__all__ = ["PAGES", "Check", "render"]
