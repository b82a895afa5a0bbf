CREATE DATABASE IF NOT EXISTS `tradelake`;

CREATE TABLE IF NOT EXISTS `tradelake`.`silver_trades`
USING DELTA
LOCATION 's3://tradelake-demo/lake/silver/trades';

CREATE TABLE IF NOT EXISTS `tradelake`.`silver_trades_rejected`
USING DELTA
LOCATION 's3://tradelake-demo/lake/silver/trades_rejected';

CREATE TABLE IF NOT EXISTS `tradelake`.`gold_trades_hourly`
USING DELTA
LOCATION 's3://tradelake-demo/lake/gold/trades_hourly';

CREATE TABLE IF NOT EXISTS `tradelake`.`gold_trades_daily`
USING DELTA
LOCATION 's3://tradelake-demo/lake/gold/trades_daily';

CREATE TABLE IF NOT EXISTS `tradelake`.`gold_bars_1m`
USING DELTA
LOCATION 's3://tradelake-demo/lake/gold/bars_1m';

CREATE TABLE IF NOT EXISTS `tradelake`.`audit_candle_reconciliation`
USING DELTA
LOCATION 's3://tradelake-demo/lake/audit/candle_reconciliation';

CREATE TABLE IF NOT EXISTS `tradelake`.`audit_data_quality`
USING DELTA
LOCATION 's3://tradelake-demo/lake/audit/data_quality';
