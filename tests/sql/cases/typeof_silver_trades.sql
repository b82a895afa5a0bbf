-- Types of the values themselves, not only of the view's declaration.
SELECT DISTINCT typeof(product_id), typeof(trade_id), typeof(price), typeof(size), typeof(quote_notional),
       typeof(side), typeof(taker_side), typeof(trade_time), typeof(ingested_at), typeof(bronze_object), typeof(date)
FROM silver.trades
