"""What a user's expression may contain: an allowlist of sqlglot node types, functions, types and units.

Everything not named here is refused. The lists are the audit's needs (column tests, score bands, age
ranges, date parts, null handling), chosen so that each construct runs the same on DuckDB and Spark and
can neither reach a file, the network, the settings nor another statement.
"""

from __future__ import annotations

from sqlglot import exp

#: Structural nodes: references, literals, operators, CASE, CAST.
OPERATORS: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Column,
        exp.Identifier,
        exp.Literal,
        exp.Boolean,
        exp.Null,
        exp.Paren,
        exp.Neg,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Mod,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Is,
        exp.Not,
        exp.And,
        exp.Or,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.Case,
        exp.If,
        exp.Cast,
        exp.TryCast,
        exp.DataType,
        exp.DataTypeParam,
        exp.DPipe,
        exp.Var,
        exp.Interval,
    }
)

#: Scalar functions an auditor needs, by the sqlglot class each name parses to (string, numeric, date,
#: null handling). Regular expressions are left out on purpose: Spark's Java regex backtracks (ReDoS).
FUNCTIONS: frozenset[type[exp.Expr]] = frozenset(
    {
        # strings
        exp.Lower,
        exp.Upper,
        exp.Trim,
        exp.Length,
        exp.Substring,
        exp.Concat,
        exp.Replace,
        exp.StartsWith,
        exp.EndsWith,
        exp.Left,
        exp.Right,
        exp.StrPosition,
        # numbers
        exp.Abs,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Sign,
        exp.Sqrt,
        exp.Ln,
        exp.Exp,
        exp.Pow,
        exp.Least,
        exp.Greatest,
        # null handling
        exp.Coalesce,
        exp.Nullif,
        # dates
        exp.Year,
        exp.Quarter,
        exp.Month,
        exp.Day,
        exp.Hour,
        exp.Extract,
        exp.TimestampTrunc,
        exp.DateTrunc,
        exp.DateDiff,
        exp.CurrentDate,
    }
)

#: Functions sqlglot does not model (parsed as `Anonymous`) that are still allowed, all lower case.
NAMED_FUNCTIONS: frozenset[str] = frozenset({"date_part"})

#: String similarity and token-list overlap, allowed only in expressions over record pairs (blocking rules
#: and Splink comparison levels, `l.x` vs `r.x`); none of them returns more text than it is given.
PAIR_CLASSES: frozenset[type[exp.Expr]] = frozenset(
    {exp.Levenshtein, exp.JarowinklerSimilarity, exp.ArrayOverlaps}
)
PAIR_FUNCTIONS: frozenset[str] = frozenset(
    {
        "jaro_similarity",
        "jaro_winkler_similarity",
        "jaro_winkler",  # Splink's Spark UDF for the same measure
        "damerau_levenshtein",
        "hamming",
        "jaccard",
        "levenshtein",
        "list_intersect",
        "list_has_any",
    }
)

#: Date and time units allowed in EXTRACT, DATE_PART, DATE_TRUNC, DATE_DIFF and INTERVAL.
UNITS: frozenset[str] = frozenset({"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"})

#: Nodes whose `unit` (or first argument) may be a unit name.
UNIT_PARENTS: tuple[type[exp.Expr], ...] = (
    exp.Extract,
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.DateDiff,
    exp.Interval,
)

_T = exp.DataType.Type
#: CAST / TRY_CAST / `::` targets.
CAST_TYPES: frozenset[exp.DType] = frozenset(
    {
        _T.TINYINT,
        _T.SMALLINT,
        _T.INT,
        _T.BIGINT,
        _T.FLOAT,
        _T.DOUBLE,
        _T.DECIMAL,
        _T.VARCHAR,
        _T.TEXT,
        _T.BOOLEAN,
        _T.DATE,
        _T.TIMESTAMP,
        _T.TIMESTAMPNTZ,  # DuckDB's TIMESTAMP (no time zone) as sqlglot 30 reads it
    }
)

#: How many parameters a cast type may carry: DECIMAL(p, s) and VARCHAR(n); none for the others.
TYPE_PARAMETERS: dict[exp.DType, int] = {_T.DECIMAL: 2, _T.VARCHAR: 1, _T.TEXT: 1}

#: Plain names for refused constructs, so the error says what was refused in the user's words.
REFUSED_NAMES: dict[type[exp.Expr], str] = {
    exp.Select: "a subquery",
    exp.Subquery: "a subquery",
    exp.Union: "a subquery",
    exp.Exists: "EXISTS (a subquery)",
    exp.Star: "* (every column)",
    exp.Columns: "COLUMNS(...)",
    exp.Lambda: "a lambda (->)",
    exp.JSONExtract: "the -> operator",
    exp.JSONExtractScalar: "the ->> operator",
    exp.Dot: "a dotted name",
    exp.Bracket: "a subscript [...]",
    exp.Array: "a list literal",
    exp.Struct: "a struct literal",
    exp.Placeholder: "a parameter placeholder",
    exp.Alias: "an alias (AS)",
    exp.PropertyEQ: "a named argument (:=)",
    exp.Kwarg: "a named argument (=>)",
    exp.Collate: "COLLATE",
    exp.RegexpLike: "regular expressions (use LIKE or ILIKE)",
    exp.RegexpILike: "regular expressions (use LIKE or ILIKE)",
    exp.RegexpFullMatch: "regular expressions (use LIKE or ILIKE)",
    exp.RegexpExtract: "regular expressions (use LIKE or ILIKE)",
    exp.RegexpReplace: "regular expressions (use LIKE or ILIKE)",
    exp.SimilarTo: "SIMILAR TO (a regular expression; use LIKE)",
    exp.Glob: "GLOB (use LIKE)",
    exp.Window: "a window function (OVER)",
    exp.IntDiv: "integer division // (use floor(a / b))",
    exp.AggFunc: "an aggregate function",
    exp.ByteString: "an escape string (E'...')",
    exp.HexString: "a hex string",
    exp.Parameter: "a parameter",
    exp.SessionParameter: "a session variable",
}
