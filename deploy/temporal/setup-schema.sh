#!/bin/sh
# Creates or upgrades Temporal's schemas in PostgreSQL (the temporalio/admin-tools image).
# Safe to run on every start: setup-schema -v 0.0 only records a baseline, and
# update-schema applies the versions not applied yet.
# The databases themselves are created by deploy/postgres/initdb/10-relance.sh.
set -eu

SQL_HOST="${SQL_HOST:-postgres}"
SQL_PORT="${SQL_PORT:-5432}"
SQL_USER="${SQL_USER:-temporal}"
# SQL_PASSWORD is read from the environment by temporal-sql-tool.
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

until nc -z "$SQL_HOST" "$SQL_PORT"; do
    echo "waiting for PostgreSQL at $SQL_HOST:$SQL_PORT"
    sleep 1
done

sql_tool() {
    temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" "$@"
}

sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "$SCHEMA_ROOT/temporal/versioned"

sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "$SCHEMA_ROOT/visibility/versioned"

echo "Temporal schemas are up to date"
