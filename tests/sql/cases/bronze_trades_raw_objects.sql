-- args: --role etl
-- Bronze objects of one date, one row per record: objects, their partitions and id ranges
-- (ETH-USD 7-8 is hand-made: trades of another product's request).
SELECT product, date, bronze_object, count(*) AS records,
       min((trade->>'trade_id')::BIGINT) AS first_id, max((trade->>'trade_id')::BIGINT) AS last_id,
       count(DISTINCT request) > 0 AS has_requests
FROM bronze.trades_raw
WHERE date = '2024-05-01'
GROUP BY ALL
ORDER BY product, date, bronze_object
