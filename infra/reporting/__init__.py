"""SLA reports: queries over the database and renderers (table, JSON, CSV, HTML)."""
