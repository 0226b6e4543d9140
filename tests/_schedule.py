"""The order in which `--dist loadgroup` hands units (a module, or the modules of one SCHEDULED_TOGETHER
name) to the xdist workers: the longest first, by a table of the modules' known times.

xdist's own order is by number of tests, which put the longest modules (a few slow tests each) last, so
one worker still ran one of them while the other had nothing left. Longest first (LPT) leaves only short
modules for the end. Replayed on the per-test times of the run below (2 workers, xdist's prefetch of a
unit when a worker has 2 tests left), the summed tests end at 869 s on the busier worker in xdist's order
and at 857 s longest first (851 s on the other; half the 1,708 s total is 854 s).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Summed seconds per module (setup, call and teardown of every test), from the JUnit report of
#: `bash .ci/test.sh` on the 2-core machine (2026-12-07 at d866ce6: 4,987 tests, 1,839 s summed), the
#: modules made faster on 2026-12-08 scaled by their measured CPU before/after; modules under 10 s are
#: left out and go after these, most tests first. Only the order matters: refresh the figures when a
#: module's cost changes by much (tests/test_schedule.py checks every path still exists).
KNOWN_SECONDS = {
    "tests/api/test_workbench_browser.py": 120,
    "tests/decisions/test_decisions_coverage.py": 71,
    "tests/linkage/test_linkage_lp_audit.py": 42,
    "tests/security/test_web_limits.py": 41,
    "tests/disclosure/test_lp_attack_one_output.py": 41,
    "tests/linkage/test_linkage_risk_agreement.py": 34,
    "tests/api/test_workbench.py": 33,
    "tests/disclosure/test_disclosure_check_input.py": 28,
    "tests/biometrics/test_biometrics_spark.py": 27,
    "tests/biometrics/test_biometrics_lp_attack_curves.py": 22,
    "tests/decisions/test_decisions_scan_thread_review.py": 21,
    "tests/linkage/test_linkage_audit_spark.py": 20,
    "tests/ledger/test_ledger_tamper.py": 20,
    "tests/disclosure/test_weighted_disclosure.py": 20,
    "tests/security/test_weighted_warning_disclosure.py": 18,
    "tests/decisions/test_decisions_weighted_designs.py": 17,
    "tests/security/test_data_value_fuzz.py": 17,
    "tests/inventory/test_inventory_audits.py": 16,
    "tests/ledger/test_ledger_crash.py": 16,
    "tests/biometrics/test_biometrics_lp_attack_thresholds.py": 15,
    "tests/decisions/test_decisions_counts.py": 15,
    "tests/linkage/test_linkage_lp_attack.py": 15,
    "tests/monitor/test_monitor_arrival.py": 14,
    "tests/biometrics/test_biometrics_summary_coverage.py": 14,
    "tests/monitor/test_monitor_lp_attack_late_truth.py": 14,
    "tests/ledger/test_ledger_attacker_0005.py": 13,
    "tests/ledger/test_ledger_due_process_attacks.py": 13,
    "tests/ledger/test_ledger_attacker_writer.py": 13,
    "tests/decisions/test_decisions_weighted_whole.py": 13,
    "tests/linkage/test_linkage_audit_febrl.py": 12,
    "tests/decisions/test_decisions_weighted_coverage.py": 12,
    "tests/disclosure/test_last_chain.py": 12,
    "tests/commands/test_linkage_output.py": 12,
    "tests/ledger/test_ledger_verify_store.py": 12,
    "tests/security/test_release_register.py": 12,
    "tests/ledger/test_ledger_api.py": 11,
    "tests/biometrics/test_biometrics_lp_attack_found_thresholds.py": 11,
    "tests/biometrics/test_biometrics_lp_attack_search_missing.py": 11,
    "tests/api/test_api_browser.py": 11,
    "tests/security/test_auditor_expressions.py": 11,
    "tests/security/test_monitor_inputs.py": 11,
    "tests/disclosure/test_fixed.py": 10,
    "tests/disclosure/test_linked_tables.py": 10,
    "tests/io/test_io_plain_names.py": 10,
    "tests/report/test_report_units.py": 10,
    "tests/decisions/test_decisions_audit_shortcuts.py": 10,
    "tests/linkage/test_linkage_risk_population.py": 10,
}


def expected_seconds(nodeids: Iterable[str]) -> float:
    """A unit's known time: the sum over its modules of KNOWN_SECONDS (0 for a module not listed)."""
    return float(
        sum(KNOWN_SECONDS.get(module, 0) for module in {nodeid.split("::", 1)[0] for nodeid in nodeids})
    )


def longest_first(units: dict[str, dict[str, bool]]) -> list[str]:
    """The units' names, the longest known time first; ties (the modules not listed) by most tests, in
    the order given otherwise (Python's sort is stable), as xdist orders them."""
    return sorted(units, key=lambda name: (-expected_seconds(units[name]), -len(units[name])))
