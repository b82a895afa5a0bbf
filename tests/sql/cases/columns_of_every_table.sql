-- args: --role etl
-- The column contract of every table (the etl role also sees bronze.trades_raw),
-- with DuckDB types; the Hive partition columns come last.
SELECT table_schema, table_name, ordinal_position, column_name, data_type
FROM information_schema.columns
WHERE table_schema IN ('silver', 'gold', 'bronze')
ORDER BY table_schema, table_name, ordinal_position
