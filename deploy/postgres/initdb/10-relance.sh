#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data volume.
# Creates the application's role and database, and Temporal's role and its two databases
# (Temporal's schema tool then sets up the tables; btree_gin, which its visibility schema
# needs, is a trusted extension the owner of the database may create).
set -e

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set relance_password="${RELANCE_DB_PASSWORD:-relance}" \
    --set temporal_password="${TEMPORAL_DB_PASSWORD:-temporal}" <<'SQL'
CREATE ROLE relance LOGIN PASSWORD :'relance_password';
CREATE DATABASE relance OWNER relance;
-- The nightly ERP import skips the redundant per-row foreign-key rechecks of its
-- set-based insert (its rows come from a join under the import lock).
GRANT SET ON PARAMETER session_replication_role TO relance;

CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
