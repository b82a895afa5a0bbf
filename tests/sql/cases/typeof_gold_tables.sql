SELECT DISTINCT t, typeof(product_id), typeof(period_start), typeof(trade_count), typeof(avg_price),
       typeof(total_volume), typeof(quote_volume), typeof(vwap), typeof(open), typeof(high), typeof(low),
       typeof(close), typeof(buy_volume), typeof(sell_volume), typeof(first_trade_id), typeof(last_trade_id),
       typeof(date)
FROM (SELECT 'gold.trades_hourly' AS t, * FROM gold.trades_hourly
      UNION ALL SELECT 'gold.trades_daily', * FROM gold.trades_daily
      UNION ALL SELECT 'gold.bars_1m', * FROM gold.bars_1m)
ORDER BY t
