"""Storage: the schema, engines for SQLite and PostgreSQL, migrations, bulk writes."""
