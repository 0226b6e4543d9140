"""docs/gallery/crosscheck.md: the observed 2012 collision share (Goel et al.) to its printed digit, and
misflag's model figure equal to the one docs/linkage-risk.md quotes (552 per 100,000)."""

from __future__ import annotations

from misflag.gallery import PAGES


def test_observed_share_model_and_double_votes() -> None:
    checks, sources = PAGES["crosscheck"]()
    observed, model, double = checks
    assert round(100 * 3_000_000 / 129_000_000, 1) == 2.3 and observed.printed == "2.3" and observed.follows
    assert round(100_000 * model.value / 100) == 552  # docs/linkage-risk.md: 552 wrongful matches per 100,000
    assert model.printed is None and 4.0 < observed.value / model.value < 4.5  # "about fourfold"
    assert double.printed == "0.025" and double.follows and 100 / 4000 == 0.025
    assert any("ssrc.org" in source for source in sources)
