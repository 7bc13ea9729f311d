#!/usr/bin/env bash
# Waits for PostgreSQL, creates the application role and database, applies init-pgvector.sql.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'USAGE'
Usage: scripts/bootstrap-db.sh [--timeout SECONDS]

For a PostgreSQL that BI-Agent does not start itself (compose's `postgres`, or a server of
your own). Idempotent: run it as often as you like.
  1. waits (pg_isready) until PostgreSQL at PGHOST:PGPORT accepts connections;
  2. as the admin user, creates the login role APP_DB_USER with APP_DB_PASSWORD unless it
     exists (an existing role's password is set to APP_DB_PASSWORD), and the database
     APP_DB_NAME owned by it unless it exists;
  3. applies scripts/init-pgvector.sql in that database (extensions vector and uuid-ossp,
     schema analytics) and gives the role the schema analytics.
Then point BI-Agent at it: DB_HOST, DB_PORT, DB_NAME=APP_DB_NAME, DB_USER=APP_DB_USER,
DB_PASSWORD=APP_DB_PASSWORD (or DATABASE_URL), and run `.venv/bin/bi-agent migrate --admin`.

Environment (values from .env are used where the environment has none):
  PGHOST            server (default localhost); PGPORT (default DB_PORT, else 5432)
  PGUSER            admin user (default postgres); PGPASSWORD its password (default
                    DB_PASSWORD); PGDATABASE the admin's database (default postgres)
  APP_DB_USER       application role (default bi_agent)
  APP_DB_PASSWORD   its password (required; never printed)
  APP_DB_NAME       application database (default DB_NAME, else analytics_db)
With compose (port 5432 published):
  APP_DB_PASSWORD='a-password' scripts/bootstrap-db.sh

Options:
  --timeout SECONDS  how long to wait for PostgreSQL (default 60)
  -h, --help         this text

Exit codes: 0 done; 1 PostgreSQL did not answer in time, or a statement failed;
2 bad usage or APP_DB_PASSWORD missing; 3 psql or pg_isready not installed.
USAGE
}

TIMEOUT=60
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --timeout) TIMEOUT="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
        *) echo "error: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "error: --timeout takes whole seconds" >&2; exit 2; }

# shellcheck source=scripts/lib/common.bash
source "$ROOT/scripts/lib/common.bash"

for tool in psql pg_isready; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "error: $tool is not installed (Debian/Ubuntu: apt-get install postgresql-client)" >&2
        exit 3
    }
done

export PGHOST="${PGHOST:-localhost}"
PGPORT="${PGPORT:-$(setting DB_PORT 5432)}"
export PGPORT
export PGUSER="${PGUSER:-postgres}"
PGPASSWORD="${PGPASSWORD:-$(setting DB_PASSWORD "")}"
export PGPASSWORD
export PGDATABASE="${PGDATABASE:-postgres}"
app_user="$(setting APP_DB_USER bi_agent)"
app_name="$(setting APP_DB_NAME "$(setting DB_NAME analytics_db)")"
app_password="$(setting APP_DB_PASSWORD "")"
if [[ -z "$app_password" ]]; then
    echo "error: set APP_DB_PASSWORD (the application role's password; it is never printed)" >&2
    exit 2
fi

echo "waiting for PostgreSQL at $PGHOST:$PGPORT (up to ${TIMEOUT}s)"
waited=0
until pg_isready -q -t 2; do
    if ((waited >= TIMEOUT)); then
        echo "error: PostgreSQL at $PGHOST:$PGPORT did not accept connections within ${TIMEOUT}s" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
echo "PostgreSQL answers"

# Values go in as psql variables (:'name' quotes a literal, :"name" an identifier), so the
# password never appears on a command line or in the output.
# Notices such as "extension already exists, skipping" are noise on a second run.
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
failed() {
    echo "error: $1 failed (the psql message above says why)" >&2
    exit 1
}

psql -v ON_ERROR_STOP=1 -q -X -v app_user="$app_user" -v app_password="$app_password" -v app_name="$app_name" <<'SQL' ||
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'app_name', :'app_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'app_name') \gexec
SQL
    failed "creating the role and the database"
echo "role $app_user and database $app_name are ready"

psql -v ON_ERROR_STOP=1 -q -X -d "$app_name" -f "$ROOT/scripts/init-pgvector.sql" ||
    failed "scripts/init-pgvector.sql (it needs the vector and uuid-ossp extensions installed on the server)"
psql -v ON_ERROR_STOP=1 -q -X -d "$app_name" -v app_user="$app_user" <<'SQL' ||
SELECT format('GRANT USAGE, CREATE ON SCHEMA analytics TO %I', :'app_user') \gexec
SELECT format('GRANT ALL ON SCHEMA public TO %I', :'app_user') \gexec
SQL
    failed "granting the schemas"
echo "applied scripts/init-pgvector.sql in $app_name (vector, uuid-ossp, schema analytics)"
