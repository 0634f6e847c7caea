"""The escape campaign against `reputation audit`: statements that write, reach a file, another
database, an extension, the environment or the configuration, each dressed up in the ways the
parser could be fooled (CTEs, subqueries, comments, case, whitespace, unicode, concatenated
file names, several statements). Every one must be refused with exit 3 and one line, and
write nothing anywhere.

Placeholders: {tmp} a folder holding x.csv and x.json; {home} REPUTATION_HOME (and HOME);
{out} a file in HOME/audit.duckdb.tmp, the folder DuckDB would spill into (it exists).
"""

from __future__ import annotations

OUT = "{out}"
CSV = "{tmp}/x.csv"

_COPY = [
    f"COPY events TO '{OUT}'",
    f"COPY (SELECT 1) TO '{OUT}' (FORMAT parquet)",
    f"COPY (SELECT 1) TO '{OUT}' (FORMAT json)",
    f"COPY (FROM events) TO '{OUT}' (FORMAT csv, HEADER)",
    "COPY events TO '{home}/audit.duckdb.tmp' (FORMAT parquet, PARTITION_BY (type))",
    "COPY events TO 'f.csv'",
    "COPY events TO '/dev/stdout'",
    f"COPY events FROM '{CSV}'",
    f"copy events to '{OUT}'",
    f"  \n\t COPY events TO '{OUT}'",
    f"/* read */ COPY events TO '{OUT}'",
    f"-- SELECT\nCOPY events TO '{OUT}'",
    "COPY FROM DATABASE audit TO memory",
    "COPY (SELECT 'ф') TO '{home}/audit.duckdb.tmp/ф.csv'",
    f"COPY events TO '{OUT}' (FORMAT csv, DELIMITER '|')",
]

_CTE = [
    f"WITH x AS (COPY (SELECT 'x') TO '{OUT}') SELECT 1",
    f"WITH x AS (COPY events TO '{OUT}') SELECT * FROM x",
    f"with x as (copy (select 1) to '{OUT}') select 1",
    f"WITH a AS (SELECT 1), b AS (COPY (SELECT 2) TO '{OUT}') SELECT * FROM a",
    f"WITH x AS (WITH y AS (COPY (SELECT 1) TO '{OUT}') SELECT 1) SELECT * FROM x",
    f"SELECT * FROM (WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 1)",
    f"SELECT (WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 1) AS v",
    f"SELECT 1 WHERE EXISTS (WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 1)",
    f"SELECT 1 UNION ALL (WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 2)",
    f"WITH x AS MATERIALIZED (COPY (SELECT 1) TO '{OUT}') SELECT 1",
    f"WITH x AS NOT MATERIALIZED (COPY (SELECT 1) TO '{OUT}') SELECT 1",
    f"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3), "
    f"c AS (COPY (SELECT 1) TO '{OUT}') SELECT * FROM r",
    "WITH x AS (DELETE FROM events RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (DELETE FROM _sync RETURNING *) SELECT 1",
    "WITH x AS (INSERT INTO _sync VALUES ('x', 1) RETURNING *) SELECT * FROM x",
    "WITH x AS (UPDATE _sync SET value = 0 RETURNING *) SELECT * FROM x",
    "WITH x AS (UPDATE events SET stars = 5 WHERE stars < 3 RETURNING position) SELECT count(*) FROM x",
    "with x as (delete from events returning *) select 1",
    "SELECT * FROM contracts WHERE contract_id IN (WITH d AS (DELETE FROM contracts RETURNING contract_id) "
    "SELECT * FROM d)",
    "WITH x AS MATERIALIZED (DELETE FROM score_changes RETURNING seq) SELECT max(seq) FROM x",
    "FROM (WITH x AS (INSERT INTO events SELECT * FROM events RETURNING 1) FROM x)",
    f"EXPLAIN WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 1",
    f"EXPLAIN ANALYZE WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 1",
    "EXPLAIN ANALYZE WITH x AS (DELETE FROM events RETURNING *) SELECT 1",
    f"DESCRIBE WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 1",
    "SUMMARIZE WITH x AS (DELETE FROM events RETURNING *) SELECT * FROM x",
    f"WITH x AS (COPY (SELECT 1) TO '{OUT}') SELECT 1; SELECT 2",
]

_RETURNING_AND_DML = [
    "DELETE FROM events RETURNING *",
    "INSERT INTO _sync VALUES ('x', 1) RETURNING *",
    "UPDATE _sync SET value = 0 RETURNING *",
    "DELETE FROM events",
    "TRUNCATE events",
    "INSERT INTO events SELECT * FROM events",
    "INSERT OR REPLACE INTO _sync VALUES ('position', 0)",
    "INSERT INTO _sync VALUES ('position', 0) ON CONFLICT DO UPDATE SET value = 0",
    "UPDATE _sync SET value = 0",
    "MERGE INTO events USING events AS s ON events.position = s.position WHEN MATCHED THEN DELETE",
]

_DDL = [
    "DROP TABLE events",
    "DROP MACRO TABLE jss_as_of",
    "DROP VIEW contract_outcomes",
    "DROP SCHEMA main CASCADE",
    "ALTER TABLE events ADD COLUMN x INTEGER",
    "ALTER TABLE events RENAME TO e",
    "ALTER VIEW engine_clock RENAME TO c",
    "CREATE TABLE t AS SELECT 1 AS a",
    "CREATE TEMP TABLE t AS SELECT 1 AS a",
    "CREATE OR REPLACE VIEW v AS SELECT 1 AS a",
    "CREATE MACRO m(x) AS x + 1",
    f"CREATE MACRO m() AS TABLE SELECT * FROM read_csv('{CSV}')",
    "CREATE OR REPLACE MACRO jss_as_of(ts) AS TABLE SELECT 1",
    "CREATE SEQUENCE s",
    "CREATE SCHEMA s",
    "CREATE TYPE mood AS ENUM ('a')",
    "CREATE INDEX i ON events (position)",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
    "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
    "DROP SECRET s",
    "COMMENT ON TABLE events IS 'x'",
    "ANALYZE",
    "VACUUM",
    "CHECKPOINT",
    "FORCE CHECKPOINT",
]

_OTHER_DATABASES = [
    "EXPORT DATABASE '{tmp}/export'",
    "EXPORT DATABASE '{home}/audit.duckdb.tmp/export' (FORMAT parquet)",
    "IMPORT DATABASE '{tmp}/export'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "ATTACH ':memory:' AS mem",
    "ATTACH 'other.duckdb' AS other (READ_ONLY)",
    "ATTACH OR REPLACE '{tmp}/other.duckdb' AS audit",
    "ATTACH '{home}/audit.duckdb' AS again",
    "DETACH audit",
    "USE memory",
]

_EXTENSIONS = [
    "INSTALL sqlite",
    "INSTALL httpfs FROM community",
    "FORCE INSTALL json",
    "LOAD json",
    "LOAD '{tmp}/x.duckdb_extension'",
    "UPDATE EXTENSIONS",
    "UPDATE EXTENSIONS (json)",
    "update extensions",
]

_SETTINGS = [
    "PRAGMA enable_profiling",
    "PRAGMA profiling_output = '{out}'",
    "PRAGMA force_checkpoint",
    "PRAGMA database_list",
    "PRAGMA show_tables",
    "PRAGMA version",
    "CALL pragma_version()",
    "CALL duckdb_secrets()",
    "CALL checkpoint()",
    "SET threads = 1",
    "SET enable_external_access = true",
    "SET temp_directory = '{home}/audit.duckdb.tmp'",
    "SET lock_configuration = false",
    "SET profiling_output = '{out}'",
    "SET GLOBAL memory_limit = '1GB'",
    "SET VARIABLE f = '{tmp}/x.csv'",
    "RESET TimeZone",
    "RESET ALL",
]

_TRANSACTIONS = [
    "BEGIN TRANSACTION",
    "COMMIT",
    "ROLLBACK",
    "PREPARE p AS SELECT 1",
    "PREPARE p AS DELETE FROM events",
    "EXECUTE p",
    "DEALLOCATE p",
    "EXPLAIN DELETE FROM events",
    "EXPLAIN ANALYZE DELETE FROM events",
    "EXPLAIN /* x */ ANALYZE DELETE FROM events",
    f"EXPLAIN COPY events TO '{OUT}'",
    "PIVOT events ON type USING count(*)",
    "PIVOT_WIDER events ON type",
    "SELECT * FROM (PIVOT events ON type)",
]

_READERS = [
    f"SELECT * FROM read_csv('{CSV}')",
    f"SELECT * FROM read_csv_auto('{CSV}')",
    "SELECT * FROM read_parquet('{tmp}/x.parquet')",
    "SELECT * FROM parquet_scan('{tmp}/x.parquet')",
    "SELECT * FROM parquet_metadata('{tmp}/x.parquet')",
    "SELECT * FROM parquet_schema('{tmp}/x.parquet')",
    "SELECT * FROM parquet_file_metadata('{tmp}/x.parquet')",
    "SELECT * FROM parquet_kv_metadata('{tmp}/x.parquet')",
    "SELECT * FROM read_json('{tmp}/x.json')",
    "SELECT * FROM read_json_auto('{tmp}/x.json')",
    "SELECT * FROM read_ndjson('{tmp}/x.json')",
    "SELECT * FROM read_json_objects('{tmp}/x.json')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_text('/etc/passwd')",
    f"SELECT * FROM read_blob('{CSV}')",
    "SELECT * FROM glob('{tmp}/*')",
    "SELECT * FROM glob('/root/*')",
    f"SELECT * FROM sniff_csv('{CSV}')",
    "SELECT * FROM read_duckdb('{home}/audit.duckdb', table_name := 'events')",
    "SELECT * FROM query('DELETE FROM events')",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM query_table('events')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM which_secret('s3://bucket/x', 's3')",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_temporary_files()",
    "SELECT * FROM read_text('{home}/audit.duckdb')",
    "SELECT * FROM duckdb_logs_parsed('QueryLog')",
    "SELECT * FROM checkpoint()",
    "SELECT * FROM force_checkpoint()",
    "SELECT * FROM enable_logging()",
    "SELECT * FROM enable_profiling()",
    "SELECT * FROM histogram('events', type)",
    "SELECT * FROM test_all_types()",
]

_READER_TRICKS = [
    f"SELECT * FROM READ_CSV('{CSV}')",
    f"SELECT * FROM Read_Csv('{CSV}')",
    f"SELECT * FROM main.read_csv('{CSV}')",
    f"SELECT * FROM system.main.read_csv('{CSV}')",
    f"SELECT * FROM \"read_csv\"('{CSV}')",
    f"SELECT * FROM read_csv\n\t(\n'{CSV}')",
    f"SELECT * FROM read_csv /* x */ ('{CSV}')",
    "SELECT * FROM read_csv('{tmp}/' || 'x.csv')",
    "SELECT * FROM read_csv(concat('{tmp}', '/x.csv'))",
    "SELECT * FROM read_csv(chr(47) || 'etc' || chr(47) || 'passwd')",
    "SELECT * FROM read_csv(['{tmp}/x.csv', '{tmp}/x.csv'])",
    "SELECT * FROM read_text(getvariable('f'))",
    "SELECT * FROM read_text($f)",
    f"SELECT (SELECT count(*) FROM read_csv('{CSV}')) AS n",
    f"SELECT * FROM events WHERE EXISTS (SELECT * FROM read_csv('{CSV}'))",
    f"SELECT * FROM events WHERE event_id IN (SELECT a FROM read_csv('{CSV}'))",
    f"SELECT * FROM range(2) r, LATERAL (SELECT * FROM read_csv('{CSV}'))",
    f"WITH f AS (SELECT * FROM read_csv('{CSV}')) SELECT * FROM f",
    f"SELECT 1 UNION SELECT count(*) FROM read_csv('{CSV}')",
    f"SELECT * FROM events JOIN read_csv('{CSV}') ON true",
    "SELECT * FROM events JOIN glob('{tmp}/*') ON true",
    f"SELECT * FROM '{CSV}'",
    f'SELECT * FROM "{CSV}"',
    f"FROM '{CSV}'",
    "FROM '{tmp}/x.json'",
    "FROM '{tmp}/x.parquet'",
    "FROM 'x.csv'",
    "FROM '~/.bashrc'",
    "FROM 'https://example.com/x.csv'",
    "FROM 's3://bucket/x.parquet'",
    f"DESCRIBE '{CSV}'",
    f"SUMMARIZE '{CSV}'",
    f"DESCRIBE SELECT * FROM read_csv('{CSV}')",
    f"EXPLAIN SELECT * FROM read_csv('{CSV}')",
    f"EXPLAIN ANALYZE SELECT * FROM read_csv('{CSV}')",
    "SELECT * FROM sys",
]

_SCALARS = [
    "SELECT getenv('HOME')",
    "SELECT GETENV('PATH')",
    "SELECT (SELECT getenv('HOME')) AS h",
    "SELECT list_transform([1], x -> getenv('HOME'))",
    "SELECT write_log('x')",
    f"SELECT json_serialize_plan('COPY events TO ''{OUT}''')",
    "SELECT * FROM events WHERE getenv('HOME') IS NOT NULL",
]

_MULTIPLE = [
    "SELECT 1; DELETE FROM events",
    "SELECT 1; SELECT 2",
    "DELETE FROM events; SELECT 1",
    f"SELECT 1;;COPY events TO '{OUT}'",
    "SELECT 1 -- ;\n; DROP TABLE events",
    "SELECT 1 /* ; */; DROP TABLE events",
    "SELECT ';'; DROP TABLE events",
    f"SELECT 1\n;\nCOPY events TO '{OUT}'",
    "/* SELECT */ DELETE FROM events",
    "-- SELECT\nDELETE FROM events",
    "/* a */ /* b */ -- c\n DROP TABLE events",
    "SELECT 1; ATTACH ':memory:' AS m",
]

_UNICODE_AND_CASE = [
    "DeLeTe FrOm events",
    "\tDELETE\tFROM\tevents",
    "\n\n  DROP\n  TABLE\n  events",
    "\ufeffDELETE FROM events",
    "DELETE\u00a0FROM events",
    "DE\u200bLETE FROM events",
    "ＤＥＬＥＴＥ FROM events",
    "S\u0415LECT * FROM events",  # a Cyrillic Е
    f"SELECT * FROM read\u200b_csv('{CSV}')",
    f"SELECT * FROM ｒｅａｄ_csv('{CSV}')",
    "SELECT * FROM U&'\\0078.csv'",
    "COPY events TO '{home}/audit.duckdb.tmp/\u202efsc.f'",
]

# (statement, extra CLI arguments)
CASES: list[tuple[str, tuple[str, ...]]] = [
    (sql, ())
    for sql in (
        _COPY
        + _CTE
        + _RETURNING_AND_DML
        + _DDL
        + _OTHER_DATABASES
        + _EXTENSIONS
        + _SETTINGS
        + _TRANSACTIONS
        + _READERS
        + _READER_TRICKS
        + _SCALARS
        + _MULTIPLE
        + _UNICODE_AND_CASE
    )
] + [
    ("SELECT * FROM read_text($f)", ("--param", "f={tmp}/x.csv")),
    ("SELECT * FROM read_csv($f)", ("--param", "f=/etc/passwd")),
    (f"COPY (SELECT $x) TO '{OUT}'", ("--param", "x=1")),
    (f"WITH c AS (COPY (SELECT $x) TO '{OUT}') SELECT $x", ("--param", "x=1")),
]

# reads that must keep working (the check must not refuse what the docs promise)
READS = [
    "SELECT count(*) AS n FROM events",
    "DESCRIBE events",
    "SHOW TABLES",
    "SUMMARIZE SELECT 1 AS a",
    "FROM contracts LIMIT 1",
    "VALUES (1)",
    "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "EXPLAIN SELECT * FROM events",
    "/* why */ EXPLAIN ANALYZE SELECT count(*) FROM events",
    "SELECT 'DELETE FROM events; COPY x TO ''f''' AS s, 'read_csv' AS read_csv",
    'SELECT 1 AS "copy" -- DROP TABLE events',
    "SELECT key, value FROM events, json_each(payload) LIMIT 3",
    "SELECT * FROM unnest([1, 2]) AS u(x), range(2) AS r(y), generate_series(1, 2) AS g(z)",
    "SELECT table_name FROM duckdb_tables() ORDER BY table_name",
    "SELECT * FROM jss_as_of(TIMESTAMPTZ '2019-03-01 00:00:00+00')",
    "SELECT * FROM jss_sql('2019-03-01', rules := 'all')",
    "SELECT * FROM main.contract_outcomes LIMIT 2",
    "SELECT current_setting('TimeZone') AS tz",
    "UNPIVOT contracts ON paid, refunded INTO NAME k VALUE v",
]
