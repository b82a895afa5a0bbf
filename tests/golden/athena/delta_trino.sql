CREATE SCHEMA IF NOT EXISTS "delta"."tradelake";

CALL "delta".system.register_table(schema_name => 'tradelake', table_name => 'silver_trades', table_location => 's3://tradelake-demo/lake/silver/trades');

CALL "delta".system.register_table(schema_name => 'tradelake', table_name => 'silver_trades_rejected', table_location => 's3://tradelake-demo/lake/silver/trades_rejected');

CALL "delta".system.register_table(schema_name => 'tradelake', table_name => 'gold_trades_hourly', table_location => 's3://tradelake-demo/lake/gold/trades_hourly');

CALL "delta".system.register_table(schema_name => 'tradelake', table_name => 'gold_trades_daily', table_location => 's3://tradelake-demo/lake/gold/trades_daily');

CALL "delta".system.register_table(schema_name => 'tradelake', table_name => 'gold_bars_1m', table_location => 's3://tradelake-demo/lake/gold/bars_1m');

CALL "delta".system.register_table(schema_name => 'tradelake', table_name => 'audit_candle_reconciliation', table_location => 's3://tradelake-demo/lake/audit/candle_reconciliation');

CALL "delta".system.register_table(schema_name => 'tradelake', table_name => 'audit_data_quality', table_location => 's3://tradelake-demo/lake/audit/data_quality');
