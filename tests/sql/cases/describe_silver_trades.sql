-- DESCRIBE is a read: it passes the read-only gate.
DESCRIBE silver.trades
