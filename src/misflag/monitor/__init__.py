"""Ongoing monitoring: alarms, with a time-uniform false-alarm guarantee, when a group starts being wrongly
flagged more (or less) than the reference, or when human review stops dismissing algorithmic flags."""

from misflag.monitor._run import monitor, run_monitor
from misflag.monitor._spec import METRICS, MonitorSpec, ReleaseRefused, parse_band, parse_stage

__all__ = ["METRICS", "MonitorSpec", "ReleaseRefused", "monitor", "parse_band", "parse_stage", "run_monitor"]
