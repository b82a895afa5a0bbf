-- Coarser Gold tables are exact sums of the finer ones.
WITH h AS (SELECT product_id, date, sum(trade_count) AS n, sum(total_volume) AS v, sum(quote_volume) AS q,
                  sum(buy_volume) AS b, min(first_trade_id) AS f, max(last_trade_id) AS l
           FROM gold.trades_hourly GROUP BY ALL),
     m AS (SELECT product_id, date, sum(trade_count) AS n, sum(total_volume) AS v, sum(quote_volume) AS q,
                  sum(buy_volume) AS b, min(first_trade_id) AS f, max(last_trade_id) AS l
           FROM gold.bars_1m GROUP BY ALL)
SELECT d.product_id, d.date,
       d.trade_count - h.n AS d_hourly_count, d.total_volume - h.v AS d_hourly_volume,
       d.quote_volume - h.q AS d_hourly_quote, d.buy_volume - h.b AS d_hourly_buy,
       d.trade_count - m.n AS d_1m_count, d.total_volume - m.v AS d_1m_volume,
       d.quote_volume - m.q AS d_1m_quote, d.first_trade_id - m.f AS d_1m_first, d.last_trade_id - m.l AS d_1m_last
FROM gold.trades_daily d
JOIN h USING (product_id, date)
JOIN m USING (product_id, date)
ORDER BY d.product_id, d.date
