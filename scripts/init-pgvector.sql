-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- The migrations create the same extensions; creating them here as the superuser means a
-- deployment whose DB_USER is not a superuser still gets them.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE SCHEMA IF NOT EXISTS analytics;
