"""The report's content: findings with ProPublica's numbers, charts as inlined data, tables, the
reproducibility block, withheld small groups and escaping. Figures are checked against pandas."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from misflag.report import build_report, render_report, write_report
from misflag.report._charts import DASHES, METRIC_LABELS
from misflag.report._write import SECTION_BUILDERS, TITLES, section_builder
from misflag.result import AuditResult, make_row, rows_to_table

SPEC = re.compile(
    r'<script type="application/json" class="vl-spec" data-target="([^"]+)">(.*?)</script>', re.S
)


def _specs(html: str) -> dict[str, dict]:
    return {target: json.loads(text) for target, text in SPEC.findall(html)}


def _values(spec: dict) -> list[dict]:
    """The inlined data points of a chart (top level, or the first layer holding any)."""
    for data in [spec.get("data", {}), *(layer.get("data", {}) for layer in spec.get("layer", []))]:
        if data.get("values") and "group" in data["values"][0]:
            return data["values"]
    return []


def _pandas_fpr(compas_csv: Path) -> pd.Series:
    frame = pd.read_csv(compas_csv)
    negatives = frame[frame["two_year_recid"] == 0]
    return negatives["score_text"].isin(["Medium", "High"]).groupby(negatives["race"]).mean()


def test_findings_state_propublica_disparity_with_interval(
    compas_result: AuditResult, compas_csv: Path
) -> None:
    fpr = _pandas_fpr(compas_csv)
    assert round(fpr["African-American"] * 100, 2) == 44.85  # ProPublica's published figures
    assert round(fpr["Caucasian"] * 100, 2) == 23.45
    content = build_report(compas_result)
    sentences = [s for section in content.sections for s in section.findings]
    wanted = [s for s in sentences if "African-American were flagged" in s and "as often as Caucasian:" in s]
    assert len(wanted) == 1, sentences
    sentence = wanted[0]
    ratio = fpr["African-American"] / fpr["Caucasian"]
    assert f"{ratio:.2f} times as often" in sentence  # 1.91
    assert "44.85% vs 23.45%" in sentence
    row = compas_result.select(metric="fpr_ratio", attribute="race", group="Caucasian", stage="decision")[0]
    # the reference is African-American, so the sentence inverts Caucasian's ratio and its interval
    assert f"ratio 95% CI {1 / row['ci_high']:.2f}–{1 / row['ci_low']:.2f}" in sentence
    assert "outside the 0.8–1.25 band" in sentence
    assert content.summary and content.summary[0] == compas_result.summary.split(". ")[0] + "."


def test_report_is_self_contained_and_charts_carry_their_data(compas_result: AuditResult) -> None:
    html = render_report(compas_result)
    without_scripts = re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", without_scripts)
    assert "default-src 'none'" in html  # the page itself forbids any network load
    for library in ("vega@", "vega-lite", "vega-embed"):
        assert library in html or library.rstrip("@") in html
    specs = _specs(html)
    # race and sex: rates + ratios each (4), threshold curves for overall and sex (2): race's curves are
    # withheld, as Asian and Native American are withheld at the score stage (docs/disclosure.md)
    assert len(specs) == 6
    for spec in specs.values():
        layers = spec.get("layer", [spec])
        data = [layer.get("data", spec.get("data", {})) for layer in layers]
        assert any(d.get("values") for d in data), "every chart has inlined values"
    rates = next(s for s in specs.values() if s.get("title") == "Wrongly flagged and missed, by race")
    values = {(v["group"], v["measure"]): v for v in _values(rates)}
    caucasian = values[("Caucasian", "wrongly flagged (false positive rate)")]
    assert caucasian["value"] == pytest.approx(0.2345, abs=5e-5)
    assert caucasian["low"] < caucasian["value"] < caucasian["high"]


def test_tables_and_reproducibility_block(compas_result: AuditResult, compas_csv: Path) -> None:
    content = build_report(compas_result)
    race = next(t for t in content.tables if t.title == "By race — stage decision")
    assert race.columns[:4] == ["group", "flagged (selection_rate)", "wrongly flagged (fpr)", "missed (fnr)"]
    rows = {r[0]: r for r in race.rows}
    assert rows["African-American"][2].startswith("44.85% [")
    assert rows["Asian"][-1].startswith("suppressed")  # notes are kept: a withheld group says why
    pairs = dict(content.reproducibility)
    assert pairs["input sha256"] == hashlib.sha256(compas_csv.read_bytes()).hexdigest()
    assert pairs["input rows"] == "7,214"
    # rendered from the parsed tree (identifiers may be quoted), never the user's raw text
    assert pairs["expression: stage decision"].replace('"', "") == "score_text IN ('Medium', 'High')"
    assert pairs["expression: groups"].replace('"', "") == "race; sex"
    assert pairs["expression: score"].replace('"', "") == "decile_score"
    assert pairs["seed"] == "3" and pairs["replicates"] == "200" and pairs["engine"] == "duckdb"
    # each figure's interval method is listed
    assert pairs["interval methods: fpr"] == "wilson"
    assert content.full.columns[-1] == "interval method"
    assert pairs["command"].startswith("misflag decisions audit")
    assert pairs["misflag version"]


def test_small_groups_are_withheld_with_their_names(compas_csv: Path) -> None:
    from misflag.decisions import audit_decisions

    result = audit_decisions(
        compas_csv,
        truth="two_year_recid",
        flag="decile_score >= 5",
        groups=["race"],
        replicates=100,
        min_cell=20,
    )
    assert result.select(group="Native American", metric="n")[0]["suppressed"]  # 18 people < 20
    html = render_report(result)
    assert "Native American" not in html
    # alone, Native American's count would be the total minus the others: the next smallest group
    # (Asian, 32 people) is withheld with it, and the report says so without naming either
    assert "Asian" not in html
    assert (
        "2 group(s) of race are withheld for disclosure control (--min-cell 20), each a small group" in html
    )
    assert "Hispanic" in html  # 637 people: shown


def _hand_result(kind: str, group: str, metric: str = "wrongful_link_rate") -> AuditResult:
    rows = [
        make_row("overall", "all", "p>=0.9", metric, 0.02, 0.01, 0.03, 1000),
        make_row("state", group, "p>=0.9", metric, 0.05, 0.03, 0.08, 400),
        make_row("state", "B", "p>=0.9", metric, 0.01, 0.005, 0.02, 600),
    ]
    return AuditResult(kind=kind, table=rows_to_table(rows), summary="A hand-built result.")


def test_labels_are_escaped_in_text_and_chart_data() -> None:
    hostile = "</script><script>alert(1)</script>"
    html = render_report(_hand_result("linkage-audit", hostile))
    assert hostile not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    spec = next(iter(_specs(html).values()))
    assert any(v["group"] == hostile for v in _values(spec))  # JSON round-trips


def test_linkage_results_get_wrongful_link_findings_and_charts() -> None:
    content = build_report(_hand_result("linkage-audit", "A"))
    findings = content.sections[0].findings
    assert findings == [
        "Records wrongly linked to someone else by state (p>=0.9): highest for A, 5.00% [3.00% – 8.00%] "
        "(denominator 400); lowest for B, 1.00% [0.50% – 2.00%] (denominator 600)."
    ]
    assert [c.title for c in content.sections[0].charts] == ["wrongful link rate by state (p>=0.9)"]
    risk = build_report(_hand_result("linkage-risk", "A", "wrongful_match_per_100k"))
    assert risk.title == "Linkage risk" and risk.chart_count() == 1


def test_section_builders_are_a_static_table_without_cycles() -> None:
    """Every kind's builder is named in one table and imports without the writer (no plugin loader, no cycle)."""
    import importlib
    import subprocess
    import sys

    assert {"decisions", "linkage-audit", "linkage-risk", "inventory", "biometrics", "monitor"} <= set(
        SECTION_BUILDERS
    )
    assert TITLES["biometrics"] == "Biometric verifier audit" and TITLES["monitor"] == "Monitoring"
    for kind, (module, function) in SECTION_BUILDERS.items():
        if importlib.util.find_spec(module) is None:  # a folder still being written
            continue
        # each builder module imports on its own, in a fresh interpreter, before the writer
        code = f"import {module} as m; assert callable(m.{function}); import misflag.report._write"
        subprocess.run([sys.executable, "-c", code], check=True)
        assert callable(section_builder(kind))
    assert section_builder("no-such-kind").__name__ == "generic_sections"


def test_threshold_chart_caption_matches_its_line_styles(compas_result: AuditResult) -> None:
    """The caption says which measure is solid and which dashed; the Vega-Lite spec must draw exactly that."""
    content = build_report(compas_result)
    curves = [c for s in content.sections for c in s.charts if c.title.startswith("Threshold curves")]
    assert curves
    solid, dashed = dict(DASHES)["solid"], dict(DASHES)["dashed"]
    for chart in curves:
        assert "by overall" not in chart.title and "by overall" not in json.dumps(chart.spec)
        scale = chart.spec["encoding"]["strokeDash"]["scale"]
        drawn = dict(zip(scale["domain"], scale["range"], strict=True))
        fpr, fnr = METRIC_LABELS["fpr"], METRIC_LABELS["fnr"]
        assert drawn[fpr] == solid and drawn[fnr] == dashed
        assert f"{fpr}: solid" in chart.caption and f"{fnr}: dashed" in chart.caption
    assert any(c.title == "Threshold curves for everyone" for c in curves)


def test_write_report_needs_an_existing_folder(tmp_path: Path) -> None:
    from misflag.errors import InputError

    result = _hand_result("linkage-audit", "A")
    with pytest.raises(InputError, match="does not exist"):
        write_report(result, html_path=tmp_path / "missing" / "r.html")
    write_report(result, html_path=tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob("*.partial"))


def test_generic_kind_uses_metrics_with_intervals() -> None:
    result = _hand_result("something-new", "A", "share_wrong")
    result.extras["unused"] = pa.table({"x": [1]})
    content = build_report(result)
    assert content.title == "something-new audit"
    assert content.chart_count() == 1


def test_cli_report_commands_and_their_errors(
    compas_result: AuditResult, compas_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from misflag.cli import main

    assert main(["report", str(tmp_path / "missing.json"), "--out", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: result file")
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["report", str(tmp_path / "bad.json"), "--out", str(tmp_path / "r.html")]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    saved = compas_result.save(tmp_path / "result.json")
    assert main(["report", str(saved), "--out", str(tmp_path / "nowhere" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    report = tmp_path / "audit.html"
    argv = ["decisions", "audit", str(compas_csv), "--flag", "score_text in ('Medium','High')"]
    argv += ["--truth", "two_year_recid", "--group", "race", "--replicates", "100", "--format", "csv"]
    assert main([*argv, "--report", str(report)]) == 0
    html = report.read_text(encoding="utf-8")
    assert "44.85% vs 23.45%" in html and "<dt>command</dt>" in html
