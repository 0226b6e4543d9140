"""The one progress callback every audit takes: `progress(step, fraction)`.

`step` says in words what is running now ("estimate u", "Monte Carlo replicate 3 of 5"); `fraction` is
the share of the whole job done so far, from 0 to 1, or None when the step cannot say (the caller then
counts steps). The CLI draws it as a rich progress bar (`commands._output.progress_bar`), the web API as
a job's progress; a library caller may pass any function of this shape, or nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float | None], None]


def no_progress(step: str, fraction: float | None = None) -> None:
    """The callback used when none is given: does nothing."""
