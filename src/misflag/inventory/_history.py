"""History across years: each use case linked to its predecessor in the previous inventory with Splink.

Linking is record linkage, so it runs on misflag's linkage layer (Splink, settings in
history_splink.json: names compared by exact match, Jaro-Winkler and word Jaccard, descriptions by word
Jaccard, blocked by agency). m and u were learnt once by Splink (u by random sampling, m by EM over the
agency blocks, 2024 -> 2025; scripts/train_history_linker.py) and ship in the settings, so a run predicts
without retraining; see docs/inventory.md.
Each use case keeps at most one predecessor: a pair is a link when each record is the other's best
candidate and the match probability reaches the threshold. Uncertain pairs go to a clerical-review sample.
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from misflag._text import shown
from misflag.engine import DuckDBEngine, quote_literal
from misflag.engine.duckdb import ONE_FILE
from misflag.errors import InputError, literal, named_path
from misflag.inventory._features import link_features, year_features
from misflag.inventory._load import Inventory
from misflag.linkage import draw_clerical_sample, run_splink
from misflag.result import AuditResult, make_row, rows_to_table
from misflag.stats import wilson_interval

#: Match probability from which a mutual-best pair is a link.
LINK_THRESHOLD = 0.5
#: Pairs scored in [REVIEW_LOW, REVIEW_HIGH) are uncertain and eligible for clerical review.
REVIEW_LOW, REVIEW_HIGH = 0.1, 0.9
#: Pairs below this probability are not kept at all.
MIN_SCORE = 0.01


def settings_path() -> Path:
    """The built-in Splink settings for linking inventories (Splink's own JSON format)."""
    return Path(str(resources.files("misflag.inventory") / "history_splink.json"))


def _score_pairs(inventory: Inventory, previous: int, current: int, settings: str | Path) -> None:
    """Splink's pairs for one year step, oriented (uid_prev, uid_next) and stored as `pairs_<current>`."""
    pairs = run_splink(
        settings,
        [year_features(inventory, previous), year_features(inventory, current)],
        train=False,
        threshold=MIN_SCORE,
    )
    engine = inventory.engine
    engine.register_arrow("_pairs_raw", pairs)
    engine.execute(
        f"""
        CREATE OR REPLACE TABLE pairs_{current} AS
        SELECT CASE WHEN id_l LIKE '{previous}-%' THEN id_l ELSE id_r END AS uid_prev,
               CASE WHEN id_l LIKE '{previous}-%' THEN id_r ELSE id_l END AS uid_next,
               score, match_weight
        FROM _pairs_raw
        """
    )
    engine.execute(
        f"""
        CREATE OR REPLACE TABLE links_{current} AS
        WITH ranked AS (
            SELECT *, row_number() OVER (PARTITION BY uid_next ORDER BY score DESC, uid_prev) AS rank_next,
                      row_number() OVER (PARTITION BY uid_prev ORDER BY score DESC, uid_next) AS rank_prev
            FROM pairs_{current}
        )
        SELECT uid_prev, uid_next, score FROM ranked
        WHERE rank_next = 1 AND rank_prev = 1 AND score >= {LINK_THRESHOLD}
        """
    )


def _events(inventory: Inventory, previous: int, current: int) -> pa.Table:
    """One row per use case of either year: linked (continued / renamed / reclassified), new or retired."""
    step = f"{previous}→{current}"
    return inventory.engine.sql(
        f"""
        WITH prev AS (SELECT * FROM use_cases WHERE year = {previous}),
             next AS (SELECT * FROM use_cases WHERE year = {current})
        SELECT '{step}' AS step, coalesce(n.agency, p.agency) AS agency,
               p.uid AS uid_prev, n.uid AS uid_next, p.source_id AS source_id_prev, n.source_id AS source_id_next,
               p.name AS name_prev, n.name AS name_next, l.score,
               p.impact AS impact_prev, n.impact AS impact_next, p.impact_raw AS impact_raw_prev,
               n.impact_raw AS impact_raw_next, n.stage AS stage_next,
               CASE WHEN p.uid IS NULL THEN 'new' WHEN n.uid IS NULL THEN 'retired' ELSE 'linked' END AS event,
               (p.uid IS NOT NULL AND n.uid IS NOT NULL AND
                trim(regexp_replace(lower(p.name), '[^a-z0-9]+', ' ', 'g'))
                  <> trim(regexp_replace(lower(n.name), '[^a-z0-9]+', ' ', 'g'))) AS renamed,
               (p.uid IS NOT NULL AND n.uid IS NOT NULL
                AND p.impact IN ('high_impact', 'not_high_impact', 'presumed_not_high_impact')
                AND n.impact IN ('high_impact', 'not_high_impact', 'presumed_not_high_impact')
                AND (p.impact = 'high_impact') <> (n.impact = 'high_impact')) AS reclassified
        FROM links_{current} l
        JOIN prev p ON p.uid = l.uid_prev
        JOIN next n ON n.uid = l.uid_next
        UNION ALL
        SELECT '{step}', n.agency, NULL, n.uid, NULL, n.source_id, NULL, n.name, NULL, NULL, n.impact, NULL,
               n.impact_raw, n.stage, 'new', false, false
        FROM next n ANTI JOIN links_{current} l ON l.uid_next = n.uid
        UNION ALL
        SELECT '{step}', p.agency, p.uid, NULL, p.source_id, NULL, p.name, NULL, NULL, p.impact, NULL,
               p.impact_raw, NULL, NULL, 'retired', false, false
        FROM prev p ANTI JOIN links_{current} l ON l.uid_prev = p.uid
        ORDER BY agency, event, name_next, name_prev
        """
    )


def _event_rows(inventory: Inventory, events: pa.Table) -> list[dict[str, Any]]:
    """Counts of linked, new, retired, renamed and reclassified use cases per step, overall and per agency."""
    inventory.engine.register_arrow("_events", events)
    counts = inventory.engine.sql(
        """
        SELECT step, CASE WHEN grouping(agency) = 1 THEN 'all' ELSE 'agency' END AS attribute,
               CASE WHEN grouping(agency) = 1 THEN 'all' ELSE coalesce(agency, '(none)') END AS "group",
               count(*) FILTER (WHERE event = 'linked') AS linked,
               count(*) FILTER (WHERE event = 'new') AS new,
               count(*) FILTER (WHERE event = 'retired') AS retired,
               count(*) FILTER (WHERE event = 'linked' AND renamed) AS renamed,
               count(*) FILTER (WHERE event = 'linked' AND reclassified) AS reclassified
        FROM _events GROUP BY GROUPING SETS ((step), (step, agency))
        ORDER BY step, attribute <> 'all', "group"
        """
    )
    rows = []
    for c in counts.to_pylist():
        key = (c["attribute"], c["group"], c["step"])
        n_next, n_prev = c["linked"] + c["new"], c["linked"] + c["retired"]
        rows += [
            make_row(*key, "linked_count", c["linked"], denominator=n_next),
            make_row(*key, "new_count", c["new"], denominator=n_next),
            make_row(*key, "retired_count", c["retired"], denominator=n_prev),
            make_row(*key, "renamed_count", c["renamed"], denominator=c["linked"]),
            make_row(*key, "reclassified_count", c["reclassified"], denominator=c["linked"]),
        ]
    return rows


def _reclassifications(inventory: Inventory, events: pa.Table) -> pa.Table:
    """Linked use cases counted by (impact before, impact after), per step: the data of the plot."""
    return inventory.engine.sql(
        "SELECT step, coalesce(impact_prev, 'not_asked') AS impact_prev, coalesce(impact_next, 'not_asked') "
        "AS impact_next, count(*) AS use_cases FROM _events WHERE event = 'linked' GROUP BY ALL ORDER BY ALL"
    )


def evaluate_links(inventory: Inventory, labels: str | Path) -> list[dict[str, Any]]:
    """Precision and recall of the links on hand-labelled pairs (CSV: uid_prev, uid_next, label 1/0)."""
    path = Path(labels)
    if not path.is_file():
        raise InputError(f"labels file {named_path(path)} does not exist")
    engine = inventory.engine
    engine.register_arrow(
        "_all_links",
        engine.sql(
            " UNION ALL ".join(f"SELECT uid_prev, uid_next FROM links_{y}" for y in inventory.years[1:])
        ),
    )
    reader = DuckDBEngine()  # the inventory's engine is locked: a fresh one reads the file, as text
    try:
        engine.register_arrow(
            "_labels_in",
            reader.sql(f"SELECT * FROM read_csv({quote_literal(path)}, all_varchar = true{ONE_FILE})"),
        )
    except Exception as error:
        raise InputError(
            f"labels file {named_path(path)} is not a readable CSV: {literal(shown(str(error)))}"
        ) from None
    finally:
        reader.close()
    engine.execute("CREATE OR REPLACE TABLE _labels AS SELECT * FROM _labels_in")
    columns = {c for c, _ in engine.columns("_labels")}
    if not {"uid_prev", "uid_next", "label"} <= columns:
        raise InputError(f"labels file {path} needs the columns uid_prev, uid_next, label")
    bad = engine.sql("SELECT label FROM _labels WHERE label NOT IN ('0', '1') LIMIT 1").to_pylist()
    if bad:
        raise InputError(
            f"label {literal(shown(bad[0]['label']))} in {path} is not 1 (same use case) or 0 (different)"
        )
    counts = engine.sql(
        """
        SELECT count(*) FILTER (WHERE k.uid_prev IS NOT NULL AND b.label = '1') AS tp,
               count(*) FILTER (WHERE k.uid_prev IS NOT NULL AND b.label = '0') AS fp,
               count(*) FILTER (WHERE k.uid_prev IS NULL AND b.label = '1') AS fn,
               count(*) AS n
        FROM _labels b LEFT JOIN _all_links k ON k.uid_prev = b.uid_prev AND k.uid_next = b.uid_next
        """
    ).to_pylist()[0]
    rows = []
    for metric, hits, total in (
        ("link_precision", counts["tp"], counts["tp"] + counts["fp"]),
        ("link_recall", counts["tp"], counts["tp"] + counts["fn"]),
    ):
        low, high = wilson_interval(hits, total)
        rows.append(
            make_row(
                "linker",
                "hand-labelled pairs",
                f"n={counts['n']}",
                metric,
                hits / total if total else None,
                low,
                high,
                denominator=total,
            )
        )
    return rows


def history(
    inventory: Inventory,
    *,
    settings: str | Path | None = None,
    labels: str | Path | None = None,
    clerical_size: int = 100,
    seed: int = 0,
) -> AuditResult:
    """Link each inventory to the previous one; report new, retired, renamed and reclassified use cases.

    Extras: `history` (one row per use case and step), `reclassifications` (impact before x after),
    `clerical_review` (a stratified sample of uncertain pairs, with both records' names, to label).
    """
    years = inventory.years
    if len(years) < 2:
        raise InputError("history needs inventories of at least two years")
    link_features(inventory, years)
    events, samples = [], []
    for previous, current in itertools.pairwise(years):
        _score_pairs(inventory, previous, current, settings or settings_path())
        events.append(_events(inventory, previous, current))
        uncertain = inventory.engine.sql(
            f"SELECT uid_prev AS id_l, uid_next AS id_r, score FROM pairs_{current} "
            f"WHERE score >= {REVIEW_LOW} AND score < {REVIEW_HIGH}"
        )
        if uncertain.num_rows and clerical_size > 0:
            samples.append(
                draw_clerical_sample(uncertain, size=clerical_size, seed=seed, bands=[0.3, 0.5, 0.7])
            )
    table = pa.concat_tables(events)
    rows = _event_rows(inventory, table)
    if labels is not None:
        rows += evaluate_links(inventory, labels)
    clerical = _with_names(inventory, pa.concat_tables(samples)) if samples else pa.table({})
    linked = sum(1 for e in table["event"].to_pylist() if e == "linked")
    summary = (
        f"Linked {linked:,} use cases to their predecessor across {len(years) - 1} year step(s) "
        f"({', '.join(map(str, years))}) with Splink (match probability >= {LINK_THRESHOLD}, one predecessor "
        f"each); {clerical.num_rows:,} uncertain pair(s) sampled for clerical review."
    )
    return AuditResult(
        kind="inventory",
        table=rows_to_table(rows),
        summary=summary,
        metadata={
            **inventory.metadata(),
            "audit": "history",
            "years": years,
            "seed": seed,
            "settings": str(settings or "built-in history_splink.json"),
            "link_threshold": LINK_THRESHOLD,
        },
        extras={
            "history": table,
            "reclassifications": _reclassifications(inventory, table),
            "clerical_review": clerical,
        },
    )


def _with_names(inventory: Inventory, sample: pa.Table) -> pa.Table:
    """The clerical sample with both use cases' agency, name and purpose beside the ids, for the reviewer."""
    inventory.engine.register_arrow("_sample", sample)
    return inventory.engine.sql(
        """
        SELECT s.id_l AS uid_prev, s.id_r AS uid_next, s.score, s.band, s.stratum, s.stratum_size,
               s.inclusion_probability, s.weight, p.agency, p.name AS name_prev, n.name AS name_next,
               left(p.purpose, 300) AS purpose_prev, left(n.purpose, 300) AS purpose_next, s.label
        FROM _sample s JOIN use_cases p ON p.uid = s.id_l JOIN use_cases n ON n.uid = s.id_r
        ORDER BY s.stratum, s.id_l, s.id_r
        """
    )
