-- The analyst role (the default) sees Silver and Gold only.
SELECT table_schema, table_name, table_type
FROM information_schema.tables
WHERE table_schema IN ('silver', 'gold', 'bronze')
ORDER BY table_schema, table_name
