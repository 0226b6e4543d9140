"""The HTML report of a monitor: each group's rate and ratio over time, the band, the alarm marked."""

from __future__ import annotations

import json

from misflag.monitor import monitor
from misflag.report._write import build_report

from .conftest import make_log


def test_report_plots_rates_and_ratios_over_time_with_band_and_alarm() -> None:
    log = make_log(50, 200, lambda g, d: 0.05 * (3 if g == "B" and d >= 30 else 1), seed=6)
    result = monitor(log, time="ts", group="grp", reference="A", truth="truth", flag="flag", metrics=["fpr"])
    (alarm,) = result.metadata["alarms"]
    content = build_report(result)
    (section,) = [s for s in content.sections if s.title == "Monitoring over time"]
    assert any("fpr of B (group) went above 1.25" in finding for finding in section.findings)
    titles = [chart.title for chart in section.charts]
    assert titles == ["fpr by group over time", "fpr ratio to the reference by group over time"]
    rate_spec, ratio_spec = (json.dumps(chart.spec) for chart in section.charts)
    for spec in (rate_spec, ratio_spec):
        assert alarm["time"] in spec  # the alarm's rule
        assert '"group": "C"' in spec and '"group": "B"' in spec
    assert '"lo": 0.8, "hi": 1.25' in ratio_spec  # the band
    assert section.tables[0].rows[0][:4] == [alarm["time"][:10], "group", "B", "fpr"]
