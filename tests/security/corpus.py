"""Hostile expressions: each must be refused, before anything runs, by the CLI, the Python API and HTTP.

Classes follow the attacks of issue 11 and DuckDB's and Spark's function lists: file, network and settings
functions; table functions; statements smuggled after `;`; comments; quoted and unknown cast types;
star and COLUMNS (masking bypass); lambdas, lists, structs; subqueries in every form; aggregates and
windows; regular expressions (ReDoS); Spark reflection; Unicode look-alikes and invisible characters;
nesting; output blow-ups; placeholders and odd literals; numbers no engine holds. The canary file's
path is `CANARY`, the file an attack would write is `TARGET`; tests substitute real paths for them.
"""

from __future__ import annotations

CANARY = "/tmp/misflag-canary/secret.txt"
TARGET = "/tmp/misflag-canary/written.txt"

# DuckDB table functions that read files or the network (and a few from extensions it could autoload).
_FILE_FUNCTIONS = [
    "read_text",
    "read_blob",
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "parquet_scan",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "read_json",
    "read_json_auto",
    "read_json_objects",
    "read_ndjson",
    "read_ndjson_objects",
    "glob",
    "sniff_csv",
    "read_xlsx",
    "st_read",
    "sqlite_scan",
    "iceberg_scan",
    "delta_scan",
    "read_avro",
]

# Scalar or table functions that reveal settings, the environment, the catalog or the host.
_SETTINGS_FUNCTIONS = [
    "getenv('HOME')",
    "current_setting('home_directory')",
    "current_setting('secret_directory')",
    "getvariable('x')",
    "duckdb_settings()",
    "duckdb_extensions()",
    "duckdb_secrets()",
    "duckdb_functions()",
    "duckdb_tables()",
    "duckdb_databases()",
    "duckdb_temporary_files()",
    "pragma_version()",
    "pragma_database_list()",
    "pragma_storage_info('input')",
    "which_secret('s3://x', 's3')",
    "version()",
    "current_database()",
    "current_schema()",
    "current_query()",
    "query('SELECT 1')",
    "query_table('input')",
    "load_extension('httpfs')",
    "nextval('seq')",
    "currval('seq')",
    "setseed(0.5)",
    "random()",
    "uuid()",
    "gen_random_uuid()",
    "pg_sleep(10)",
    "sleep_ms(100000)",
    "error('boom')",
    "txid_current()",
    "pg_read_file('/etc/passwd')",
    "lo_import('/etc/passwd')",
    "typeof(flag)",
    "hash(flag)",
    "format('{}', flag)",
    "printf('%s', flag)",
    "to_json(flag)",
    "json_extract('{}', '$')",
    "from_json('{}', '{}')",
    "struct_pack(a := 1)",
    "list_value(1)",
    "map([1], [2])",
    "unnest([1, 2])",
    "range(1000000000)",
    "generate_series(1, 1000000000)",
    "repeat('a', 100000000)",
    "lpad('a', 100000000, 'x')",
    "rpad('a', 100000000, 'x')",
    "space(100000000)",
    "array_agg(flag)",
    "string_agg(flag, ',')",
    "sha256(full_name)",
    "md5(full_name)",
]

# Spark functions: JVM reflection, files, session state, failure injection.
_SPARK_FUNCTIONS = [
    "reflect('java.lang.Runtime', 'getRuntime')",
    "java_method('java.lang.System', 'getenv', 'HOME')",
    "try_reflect('java.lang.Runtime', 'getRuntime')",
    "input_file_name()",
    "current_user()",
    "spark_partition_id()",
    "assert_true(flag = 1)",
    "raise_error('boom')",
    "xpath('<a/>', 'a')",
    "schema_of_json('{}')",
    "monotonically_increasing_id()",
    "url_decode('%41')",
    "aes_decrypt(flag, 'key')",
    "session_user()",
    "stack(2, flag, truth)",
]

_STATEMENTS = [
    "flag; COPY (SELECT 'import os' AS x) TO '{TARGET}'",
    "flag; COPY input TO '{TARGET}' (FORMAT csv)",
    "flag; ATTACH '{TARGET}' AS x",
    "flag; INSTALL httpfs",
    "flag; LOAD httpfs",
    "flag; FORCE INSTALL httpfs FROM 'http://example.com'",
    "flag; PRAGMA enable_profiling",
    "flag; SET enable_external_access = true",
    "flag; RESET enable_external_access",
    "flag; CREATE TABLE x AS SELECT 1",
    "flag; DROP TABLE input",
    "flag; EXPORT DATABASE '/tmp/misflag-canary'",
    "flag; CALL pragma_version()",
    "flag; DETACH memory",
    "flag; CHECKPOINT",
    "flag; CREATE MACRO m(x) AS x",
    "flag; CREATE SECRET (TYPE s3)",
    "flag; SELECT * FROM read_text('{CANARY}')",
    "flag;",
    "flag;;",
    "flag\n;\nCOPY (SELECT 1) TO '{TARGET}'",
]

_COMMENTS = [
    "flag /* hidden */",
    "flag -- hidden",
    "flag --",
    "/* x */ flag",
    "flag /*+ hint */ + 1",
    "-- only a comment",
    "flag /* unterminated",
    "flag -- ; COPY (SELECT 1) TO '{TARGET}'",
    "flag /*/ nested /* */ */",
]

_CASTS = [
    'CAST(flag AS "main.integer) = 1 OR CAST(1 AS main.integer")',
    'CAST(flag AS "integer")',
    'CAST(flag AS "varchar")',
    'flag::"int"',
    "flag::main.int",
    "CAST(flag AS main.integer)",
    "CAST(flag AS JSON)",
    "CAST(flag AS BLOB)",
    "CAST(flag AS INT[])",
    "CAST(flag AS INTEGER[3])",
    "CAST(flag AS STRUCT(a INT))",
    "CAST(flag AS MAP(INT, INT))",
    "CAST(flag AS UNION(a INT))",
    "CAST(flag AS ENUM('a'))",
    "CAST(flag AS BIT)",
    "CAST(flag AS UUID)",
    "CAST(flag AS INTERVAL)",
    "CAST(flag AS TIME)",
    "CAST(flag AS HUGEINT)",
    "CAST(flag AS VARIANT)",
    "CAST(flag AS GEOMETRY)",
    "CAST(flag AS VOID)",
    "CAST(flag AS NULL)",
    "CAST(flag AS unknown_type)",
    "TRY_CAST(flag AS secret_type)",
    "flag::VOID",
    "flag::JSON",
    "flag::BLOB",
    "flag :: `int`",
    "CAST(flag AS INTEGER(1, 2, 3))",
    "CAST(flag AS DECIMAL(flag, 2))",
    "CAST(flag AS TIMESTAMP WITH TIME ZONE)",
]

_STAR = [
    "*",
    "COLUMNS('full_.*')",
    "COLUMNS(*)",
    "COLUMNS(c -> c LIKE 'full%')",
    "*COLUMNS('full_.*')",
    "input.*",
    "COALESCE(COLUMNS('full_.*'))",
    "lower(COLUMNS('.*name.*'))",
    "struct_pack(*)",
    "row(*)",
    "* EXCLUDE (flag)",
    "* REPLACE (1 AS flag)",
    "count(*)",
    "concat_ws(',', *)",
]

_LAMBDAS_AND_NESTED = [
    "list_transform([1], x -> x)",
    "x -> x + 1",
    "lambda x: x + 1",
    "[x FOR x IN [1, 2]]",
    "[1, 2]",
    "{'a': 1}",
    "MAP {'a': 1}",
    "flag[1]",
    "full_name[1:3]",
    "flag.x",
    "input.flag",
    "main.input.flag",
    "memory.main.input.flag",
    "row(1, 2)",
    "(1, 2)",
    "flag -> '$.x'",
    "flag ->> '$.x'",
    "flag @> [1]",
    "grp.lower()",
    "list_filter([1], x -> x > 0)",
]

_SUBQUERIES = [
    "(SELECT 1)",
    "(SELECT string_agg(content, '') FROM read_text('{CANARY}'))",
    "(FROM read_text('{CANARY}'))",
    "EXISTS (SELECT 1)",
    "flag IN (SELECT 1)",
    "flag IN (FROM read_csv('{CANARY}'))",
    "flag = ANY (SELECT 1)",
    "flag = ALL (SELECT 1)",
    "(WITH x AS (SELECT 1 AS y) SELECT y FROM x)",
    "(VALUES (1))",
    "(TABLE input)",
    "(SUMMARIZE input)",
    "(DESCRIBE input)",
    "(SHOW TABLES)",
    "(SELECT 1 UNION SELECT 2)",
    "(PIVOT input ON grp USING count(*))",
    "ARRAY(SELECT 1)",
    "(SELECT * FROM glob('/*'))",
    "flag IN grp",
    "flag IN (grp, truth)",
    "flag IN (1, (SELECT 2))",
    "CASE WHEN flag = 1 THEN (SELECT 1) ELSE 0 END",
    "COALESCE((SELECT 1), flag)",
    "lower((SELECT content FROM read_text('{CANARY}')))",
]

_AGGREGATES_AND_WINDOWS = [
    "sum(flag)",
    "max(flag)",
    "avg(flag)",
    "first(full_name)",
    "list(full_name)",
    "row_number() OVER ()",
    "sum(flag) OVER (PARTITION BY grp)",
    "lag(full_name) OVER ()",
    "count(DISTINCT flag)",
    "flag FILTER (WHERE flag = 1)",
    "arg_max(full_name, flag)",
    "histogram(full_name)",
]

_REGEX = [
    "regexp_matches(full_name, '(a+)+$')",
    "regexp_full_match(full_name, '(a|aa)+$')",
    "regexp_replace(full_name, '(.*)', '\\1')",
    "regexp_extract(full_name, '(x+x+)+y')",
    "full_name SIMILAR TO '(a+)+b'",
    "full_name GLOB '*'",
    "full_name ~ '(a+)+b'",
    "full_name !~ 'a'",
    "full_name RLIKE '(a+)+b'",
    "full_name REGEXP '(a+)+b'",
    "rlike(full_name, '(a+)+b')",
    "regexp_like(full_name, '(a+)+b')",
    "full_name LIKE 'a%' ESCAPE '\\'",
]

_UNICODE = [
    "r\u0435ad_text('{CANARY}')",  # Cyrillic e
    "\uff52\uff45\uff41\uff44_text('{CANARY}')",  # fullwidth letters
    "flag\u200b",  # zero-width space
    "flag\u202e",  # right-to-left override
    "flag\u00a0+ 1",  # no-break space
    "flag\u2028+ 1",  # line separator
    "flag\u3000+ 1",  # ideographic space
    "flag\x00",
    "flag\x1b[2J",
    "flag\u037e COPY (SELECT 1) TO '{TARGET}'",  # Greek question mark, looks like ;
    "flag\uff1b COPY (SELECT 1) TO '{TARGET}'",  # fullwidth semicolon
    "CAST(flag AS \uff49\uff4e\uff54)",  # fullwidth INT
    "flag = \u2018x\u2019",  # curly quotes
    "flag = \uff07x\uff07",  # fullwidth apostrophes
    "fl\u0430g",  # Cyrillic a in a column name
    "gr\u200dp",  # zero-width joiner
    "flag\ufeff",  # byte order mark
    "\u2212flag",  # minus sign look-alike
    "flag \u2260 1",  # not-equal sign
    "ｆｌａｇ",
]

_NESTING = [
    "(" * 500 + "flag" + ")" * 500,
    "(" * 65 + "flag" + ")" * 65,
    "NOT " * 500 + "flag",
    "-" * 500 + "flag",
    "- " * 500 + "flag",
    "+".join(["flag"] * 2000),
    "lower(" * 200 + "grp" + ")" * 200,
    "CASE WHEN flag = 1 THEN " * 100 + "1" + " END" * 100,
    "coalesce(" * 100 + "flag" + ")" * 100,
    " AND ".join(["flag = 1"] * 600),
    "flag IN (" + ", ".join(str(i) for i in range(1500)) + ")",
    "'" + "a" * 5000 + "'",
    "((((((((((",
    "))))",
    "flag" + ")" * 50,
]

_ODD_LITERALS = [
    "$1",
    "?",
    ":name",
    "@var",
    "${var}",
    "$$text$$",
    "E'\\x41'",
    "x'41'",
    "b'01'",
    "'unterminated",
    "'x\\' OR 1=1 --'",
    "U&'\\0041'",
    "DEFAULT",
    "flag AS x",
    "flag x",
    "SELECT flag",
    "flag FROM input",
    "flag WHERE 1 = 1",
    "flag ORDER BY 1",
    "flag LIMIT 1",
    "flag COLLATE nocase",
    "grp := 1",
    "lower(grp := 1)",
    "flag IS grp",
    "flag IS DISTINCT FROM (SELECT 1)",
    "INTERVAL (SELECT 1) DAY",
    "date_trunc('epoch', d)",
    "date_part(grp, d)",
    "extract(epoch FROM d)",
    "flag & 1",
    "flag << 62",
    "~flag",
    "flag::INT IS NOT NULL OR TRUE; SELECT 1",
    "rowid",
    "filename",
    '"rowid"',
]


# Numbers no engine holds: infinite as a double (DuckDB silently filters on inf, Spark refuses it) or past
# 38 digits (DuckDB's BIGNUM, which failed the query far from the expression that wrote it).
_HUGE_NUMBERS = [
    "score > 1e999999",
    "score < -1e999",
    "score > 1.8e308",
    "score * 1e200 * 1e200 > 1e309",
    "score > " + "9" * 400,
    "score > -" + "9" * 39,
    "score > 0." + "0" * 38 + "1",
    "CAST(score AS DECIMAL(" + "9" * 400 + ", 2)) > 0",
]


def _expand(items: list[str]) -> list[str]:
    return [item.replace("{CANARY}", CANARY).replace("{TARGET}", TARGET) for item in items]


def corpus() -> list[tuple[str, str]]:
    """(class, expression) pairs, every one of which must be refused."""
    entries: list[tuple[str, str]] = []
    for name in _FILE_FUNCTIONS:
        entries.append(("file function", f"{name}('{CANARY}')"))
        entries.append(("table function in a subquery", f"(SELECT count(*) FROM {name}('{CANARY}'))"))
    groups = {
        "settings and system function": _SETTINGS_FUNCTIONS,
        "spark function": _SPARK_FUNCTIONS,
        "statement": _STATEMENTS,
        "comment": _COMMENTS,
        "cast": _CASTS,
        "star and COLUMNS": _STAR,
        "lambda, list, struct": _LAMBDAS_AND_NESTED,
        "subquery": _SUBQUERIES,
        "aggregate and window": _AGGREGATES_AND_WINDOWS,
        "regular expression": _REGEX,
        "unicode": _UNICODE,
        "nesting and size": _NESTING,
        "odd literal and syntax": _ODD_LITERALS,
        "out-of-range number": _HUGE_NUMBERS,
    }
    for group, items in groups.items():
        entries.extend((group, text) for text in _expand(items))
    return entries
