CREATE DATABASE IF NOT EXISTS `tradelake`;

CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`silver_trades` (
  `trade_id` bigint,
  `price` decimal(38,18),
  `size` decimal(38,18),
  `quote_notional` decimal(38,18),
  `side` string,
  `taker_side` string,
  `trade_time` timestamp,
  `ingested_at` timestamp,
  `bronze_object` string
)
PARTITIONED BY (
  `product_id` string,
  `date` string
)
STORED AS PARQUET
LOCATION 's3://tradelake-demo/lake/silver/trades/'
TBLPROPERTIES (
  'parquet.compression'='ZSTD'
);

MSCK REPAIR TABLE `tradelake`.`silver_trades`;

CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`silver_trades_rejected` (
  `trade_id` bigint,
  `rule` string,
  `detail` string,
  `raw` string,
  `bronze_object` string,
  `rejected_at` timestamp
)
PARTITIONED BY (
  `product_id` string,
  `date` string
)
STORED AS PARQUET
LOCATION 's3://tradelake-demo/lake/silver/trades_rejected/'
TBLPROPERTIES (
  'parquet.compression'='ZSTD'
);

MSCK REPAIR TABLE `tradelake`.`silver_trades_rejected`;

CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`gold_trades_hourly` (
  `period_start` timestamp,
  `trade_count` bigint,
  `avg_price` decimal(38,18),
  `total_volume` decimal(38,18),
  `quote_volume` decimal(38,18),
  `vwap` decimal(38,18),
  `open` decimal(38,18),
  `high` decimal(38,18),
  `low` decimal(38,18),
  `close` decimal(38,18),
  `buy_volume` decimal(38,18),
  `sell_volume` decimal(38,18),
  `first_trade_id` bigint,
  `last_trade_id` bigint,
  `price_sum` decimal(38,18)
)
PARTITIONED BY (
  `product_id` string
)
STORED AS PARQUET
LOCATION 's3://tradelake-demo/lake/gold/trades_hourly/'
TBLPROPERTIES (
  'parquet.compression'='ZSTD'
);

MSCK REPAIR TABLE `tradelake`.`gold_trades_hourly`;

CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`gold_trades_daily` (
  `period_start` timestamp,
  `trade_count` bigint,
  `avg_price` decimal(38,18),
  `total_volume` decimal(38,18),
  `quote_volume` decimal(38,18),
  `vwap` decimal(38,18),
  `open` decimal(38,18),
  `high` decimal(38,18),
  `low` decimal(38,18),
  `close` decimal(38,18),
  `buy_volume` decimal(38,18),
  `sell_volume` decimal(38,18),
  `first_trade_id` bigint,
  `last_trade_id` bigint,
  `price_sum` decimal(38,18)
)
PARTITIONED BY (
  `product_id` string
)
STORED AS PARQUET
LOCATION 's3://tradelake-demo/lake/gold/trades_daily/'
TBLPROPERTIES (
  'parquet.compression'='ZSTD'
);

MSCK REPAIR TABLE `tradelake`.`gold_trades_daily`;

CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`gold_bars_1m` (
  `period_start` timestamp,
  `trade_count` bigint,
  `avg_price` decimal(38,18),
  `total_volume` decimal(38,18),
  `quote_volume` decimal(38,18),
  `vwap` decimal(38,18),
  `open` decimal(38,18),
  `high` decimal(38,18),
  `low` decimal(38,18),
  `close` decimal(38,18),
  `buy_volume` decimal(38,18),
  `sell_volume` decimal(38,18),
  `first_trade_id` bigint,
  `last_trade_id` bigint,
  `price_sum` decimal(38,18)
)
PARTITIONED BY (
  `product_id` string,
  `date` string
)
STORED AS PARQUET
LOCATION 's3://tradelake-demo/lake/gold/bars_1m/'
TBLPROPERTIES (
  'parquet.compression'='ZSTD'
);

MSCK REPAIR TABLE `tradelake`.`gold_bars_1m`;

CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`audit_candle_reconciliation` (
  `minute` timestamp,
  `status` string,
  `gold_open` decimal(38,18),
  `gold_high` decimal(38,18),
  `gold_low` decimal(38,18),
  `gold_close` decimal(38,18),
  `gold_volume` decimal(38,18),
  `gold_trade_count` bigint,
  `exchange_open` decimal(38,18),
  `exchange_high` decimal(38,18),
  `exchange_low` decimal(38,18),
  `exchange_close` decimal(38,18),
  `exchange_volume` decimal(38,18),
  `exchange_candle` string,
  `detail` string,
  `reconciled_at` timestamp
)
PARTITIONED BY (
  `product_id` string,
  `date` string
)
STORED AS PARQUET
LOCATION 's3://tradelake-demo/lake/audit/candle_reconciliation/'
TBLPROPERTIES (
  'parquet.compression'='ZSTD'
);

MSCK REPAIR TABLE `tradelake`.`audit_candle_reconciliation`;

CREATE EXTERNAL TABLE IF NOT EXISTS `tradelake`.`audit_data_quality` (
  `date` date,
  `etl_seq` bigint,
  `committed_at` timestamp,
  `records` bigint,
  `inserted` bigint,
  `duplicates` bigint,
  `rejected` bigint,
  `rejected_by_rule` string
)
PARTITIONED BY (
  `product_id` string
)
STORED AS PARQUET
LOCATION 's3://tradelake-demo/lake/audit/data_quality/'
TBLPROPERTIES (
  'parquet.compression'='ZSTD'
);

MSCK REPAIR TABLE `tradelake`.`audit_data_quality`;
