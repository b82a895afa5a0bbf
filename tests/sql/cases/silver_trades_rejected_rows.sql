-- The broken records of the hand-made Bronze objects. rejected_at is when the
-- ETL ran, and the future_time detail names that moment too: both left out.
SELECT * EXCLUDE (rejected_at, detail),
       regexp_replace(detail, 'is [0-9]+ s after now \([^)]*\)', 'is (n) s after now (when the ETL ran)') AS detail
FROM silver.trades_rejected
ORDER BY product_id, date, trade_id NULLS FIRST, rule
