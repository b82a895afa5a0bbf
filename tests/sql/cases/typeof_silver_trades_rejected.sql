SELECT DISTINCT typeof(product_id), typeof(date), typeof(trade_id), typeof(rule), typeof(detail), typeof(raw),
       typeof(bronze_object), typeof(rejected_at)
FROM silver.trades_rejected
