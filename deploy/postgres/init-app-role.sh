#!/bin/sh
# Runs once, when PostgreSQL initialises an empty data directory: creates the role the service
# connects as, `mana`, owning the database `mana`. It may create roles (the migrations create
# `mana_app`, the role per-user work runs as) but is neither superuser nor BYPASSRLS, so
# row-level security applies to everything the service does.
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$MANA_DB_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE mana LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS NOREPLICATION PASSWORD :'app_password';
CREATE DATABASE mana OWNER mana;
SQL
