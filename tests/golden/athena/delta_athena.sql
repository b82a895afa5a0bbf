CREATE DATABASE IF NOT EXISTS `tradelake`;

CREATE EXTERNAL TABLE `tradelake`.`silver_trades`
LOCATION 's3://tradelake-demo/lake/silver/trades/'
TBLPROPERTIES ('table_type'='DELTA');

CREATE EXTERNAL TABLE `tradelake`.`silver_trades_rejected`
LOCATION 's3://tradelake-demo/lake/silver/trades_rejected/'
TBLPROPERTIES ('table_type'='DELTA');

CREATE EXTERNAL TABLE `tradelake`.`gold_trades_hourly`
LOCATION 's3://tradelake-demo/lake/gold/trades_hourly/'
TBLPROPERTIES ('table_type'='DELTA');

CREATE EXTERNAL TABLE `tradelake`.`gold_trades_daily`
LOCATION 's3://tradelake-demo/lake/gold/trades_daily/'
TBLPROPERTIES ('table_type'='DELTA');

CREATE EXTERNAL TABLE `tradelake`.`gold_bars_1m`
LOCATION 's3://tradelake-demo/lake/gold/bars_1m/'
TBLPROPERTIES ('table_type'='DELTA');

CREATE EXTERNAL TABLE `tradelake`.`audit_candle_reconciliation`
LOCATION 's3://tradelake-demo/lake/audit/candle_reconciliation/'
TBLPROPERTIES ('table_type'='DELTA');

CREATE EXTERNAL TABLE `tradelake`.`audit_data_quality`
LOCATION 's3://tradelake-demo/lake/audit/data_quality/'
TBLPROPERTIES ('table_type'='DELTA');
