#!/bin/sh
# Creates sla_grafana, the role Grafana reads the SLA tables as: it may connect and SELECT,
# nothing else, so a dashboard query can never change the pipeline's data. Run by the
# postgres image on first initialisation (docker-entrypoint-initdb.d), as the owner "sla";
# default privileges give it SELECT on the tables the migrations create later.
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$GRAFANA_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE sla_grafana LOGIN PASSWORD :'pw' NOSUPERUSER NOCREATEDB NOCREATEROLE;
GRANT CONNECT ON DATABASE sla TO sla_grafana;
GRANT USAGE ON SCHEMA public TO sla_grafana;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sla_grafana;
ALTER DEFAULT PRIVILEGES FOR ROLE sla IN SCHEMA public GRANT SELECT ON TABLES TO sla_grafana;
SQL
