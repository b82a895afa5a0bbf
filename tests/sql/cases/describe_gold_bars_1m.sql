SELECT column_name, column_type FROM (DESCRIBE gold.bars_1m)
