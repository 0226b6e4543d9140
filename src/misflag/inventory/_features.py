"""Comparison columns for linking use cases across years: normalized names and word sets, in SQL.

Word sets are distinct, so a Jaccard level `|A∩B| / |A∪B| >= t` is written in the Splink settings as
`|A∩B| * (1 + t) >= t * (|A| + |B|)`, which needs one list intersection per pair. Blocking keeps pairs of
the same agency that share at least one of each record's rarer words (`key_tokens`): the words of both
years are ranked by how many use cases contain them, and each record keeps its KEY_TOKENS rarest.
"""

from __future__ import annotations

import pyarrow as pa

from misflag.inventory._load import Inventory

#: Words carrying no identity (beyond tokens shorter than three letters, which are dropped).
STOPWORDS: tuple[str, ...] = (
    "the", "and", "for", "with", "that", "this", "from", "are", "will", "use", "used", "using", "can", "its",
    "into", "their", "which", "such", "also", "has", "have", "been", "our", "not", "all", "any", "more",
    "other", "through", "based", "data", "model", "models", "tool", "tools", "system", "systems", "process",
    "information", "provide", "provides", "help", "helps", "support", "supports", "agency", "staff",
)  # fmt: skip
#: Rarest words kept per record for blocking.
KEY_TOKENS = 8
#: Description words kept per record (the first ones, after stop words are removed).
TEXT_TOKENS = 60


def link_features(inventory: Inventory, years: list[int]) -> None:
    """Create the table `link_features` (uid, year, agency, name_key, name_tokens, text_tokens, key_tokens)."""
    stop = "[" + ", ".join(f"'{w}'" for w in STOPWORDS) + "]"
    inventory.engine.execute(
        f"""
        CREATE OR REPLACE TABLE link_features AS
        WITH base AS (
            SELECT uid, year, agency,
                   trim(regexp_replace(lower(coalesce(name, '')), '[^a-z0-9]+', ' ', 'g')) AS name_key,
                   trim(regexp_replace(lower(coalesce(purpose, '') || ' ' || coalesce(outputs, '')),
                        '[^a-z0-9]+', ' ', 'g')) AS text_key
            FROM use_cases WHERE year IN ({", ".join(map(str, years))})
        ),
        tokens AS (
            SELECT uid, year, agency, NULLIF(name_key, '') AS name_key,
                   list_distinct(list_filter(string_split(name_key, ' '),
                       lambda w: length(w) > 1 AND NOT list_contains({stop}, w))) AS name_tokens,
                   list_slice(list_distinct(list_filter(string_split(text_key, ' '),
                       lambda w: length(w) > 2 AND NOT list_contains({stop}, w))), 1, {TEXT_TOKENS}) AS text_tokens
            FROM base
        ),
        words AS (
            SELECT DISTINCT uid, unnest(list_concat(name_tokens, text_tokens)) AS word FROM tokens
        ),
        frequency AS (SELECT word, count(*) AS df FROM words GROUP BY word),
        keys AS (
            SELECT uid, list(word ORDER BY df, word)[1:{KEY_TOKENS}] AS key_tokens
            FROM words JOIN frequency USING (word) GROUP BY uid
        )
        SELECT t.*, coalesce(k.key_tokens, []) AS key_tokens
        FROM tokens t LEFT JOIN keys k USING (uid)
        """
    )


def year_features(inventory: Inventory, year: int) -> pa.Table:
    """One year's rows of `link_features`, the input Splink links."""
    return inventory.engine.sql(
        f"SELECT uid, agency, name_key, name_tokens, text_tokens, key_tokens FROM link_features "
        f"WHERE year = {int(year)} ORDER BY uid"
    )
