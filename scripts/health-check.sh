#!/usr/bin/env bash
# Checks every BI-Agent service, in compose or embedded mode; see --help.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'USAGE'
Usage: scripts/health-check.sh [--mode compose|embedded] [--timeout SECONDS]

Checks every BI-Agent service and prints one line per check, with its URL when it answers.

Modes (detected unless --mode is given):
  compose   `docker compose` (or docker-compose) is installed and the Docker daemon answers
            (`docker info`): every service's state and healthcheck (`docker compose ps -a -q`
            and `docker inspect`), the one-shots migrate and minio-init exited with 0,
            then HTTP checks of the published ports: Analytics API 3000, ML service 8000,
            web 3001, MinIO 9000 and console 9001, Jaeger 16686, Prometheus 9090,
            Grafana 3002, collector health_check 13133.
  embedded  otherwise (`make up` runs `bi-agent up`): `.venv/bin/bi-agent health` (data
            stores, APIs, worker, beat), then HTTP checks of the Analytics API, ML service,
            web and the worker's /metrics. Ports come from the environment, then .env, then
            the defaults ANALYTICS_API_PORT=3000 ML_SERVICE_PORT=8000 WEB_PORT=3001
            WORKER_METRICS_PORT=9808 (hosts: ANALYTICS_API_HOST, ML_SERVICE_HOST, WEB_HOST,
            WORKER_METRICS_HOST, default 127.0.0.1).

Options:
  --mode MODE        compose or embedded instead of detecting it
  --timeout SECONDS  per HTTP request (default 5)
  -h, --help         this text

Colour only when stdout is a terminal and NO_COLOR is unset.

Exit codes: 0 every check passed; 1 a check failed (or nothing runs); 2 bad usage.
USAGE
}

MODE=""
TIMEOUT=5
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --mode) MODE="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
        --timeout) TIMEOUT="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
        *) echo "error: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$MODE" in "" | compose | embedded) ;; *) echo "error: --mode is compose or embedded" >&2; exit 2 ;; esac
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "error: --timeout takes whole seconds" >&2; exit 2; }

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    GREEN=$'\e[32m' RED=$'\e[31m' YELLOW=$'\e[33m' BOLD=$'\e[1m' RESET=$'\e[0m'
else
    GREEN="" RED="" YELLOW="" BOLD="" RESET=""
fi

# shellcheck source=scripts/lib/common.bash
source "$ROOT/scripts/lib/common.bash"

FAILED=0
PASSED=0
ok() { PASSED=$((PASSED + 1)); printf '%s[ ok ]%s %-22s %s\n' "$GREEN" "$RESET" "$1" "$2"; }
bad() { FAILED=$((FAILED + 1)); printf '%s[FAIL]%s %-22s %s\n' "$RED" "$RESET" "$1" "$2"; }

local_host() {
    case "$1" in "" | 0.0.0.0 | "::") echo 127.0.0.1 ;; *) echo "$1" ;; esac
}

http_ok() {
    curl -fsS -o /dev/null --max-time "$TIMEOUT" "$1" 2>/dev/null
}

check_http() {
    local name="$1" url="$2" show="${3:-$2}"
    if http_ok "$url"; then
        ok "$name" "$show"
    else
        bad "$name" "no answer from $url"
    fi
}

command -v curl >/dev/null 2>&1 || { echo "error: curl is needed for the HTTP checks" >&2; exit 1; }
MODE="${MODE:-$(detect_mode)}"
printf '%sBI-Agent health (%s mode)%s\n' "$BOLD" "$MODE" "$RESET"

if [[ "$MODE" == compose ]]; then
    read -r -a COMPOSE <<<"$(compose_command || echo "docker compose")"
    cd "$ROOT"
    for service in postgres redis minio otel-collector jaeger prometheus grafana \
        analytics-api ml-service celery-worker celery-beat web; do
        id="$("${COMPOSE[@]}" ps -a -q "$service" 2>/dev/null || true)"
        if [[ -z "$id" ]]; then
            bad "$service" "no container (docker compose up -d)"
            continue
        fi
        state="$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id" 2>/dev/null || echo "unknown unknown")"
        read -r status health <<<"$state"
        if [[ "$status" == running && ( "$health" == healthy || "$health" == none ) ]]; then
            ok "$service" "running, health $health"
        else
            bad "$service" "$status, health $health (docker compose logs $service)"
        fi
    done
    # The one-shots have run once and exited with 0 before the APIs started.
    for service in migrate minio-init; do
        id="$("${COMPOSE[@]}" ps -a -q "$service" 2>/dev/null || true)"
        state="$( [[ -n "$id" ]] && docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id" 2>/dev/null || echo "missing -")"
        if [[ "$state" == "exited 0" ]]; then
            ok "$service" "ran once, exit code 0"
        else
            bad "$service" "$state (docker compose logs $service)"
        fi
    done
    check_http "http analytics-api" "http://localhost:3000/health" "http://localhost:3000 (docs /docs)"
    check_http "http ml-service" "http://localhost:8000/health" "http://localhost:8000 (docs /docs)"
    check_http "http web" "http://localhost:3001/api/health" "http://localhost:3001"
    check_http "http minio" "http://localhost:9000/minio/health/live" "http://localhost:9000"
    check_http "http minio-console" "http://localhost:9001/" "http://localhost:9001"
    check_http "http jaeger" "http://localhost:16686/" "http://localhost:16686"
    check_http "http prometheus" "http://localhost:9090/-/healthy" "http://localhost:9090"
    check_http "http grafana" "http://localhost:3002/api/health" "http://localhost:3002"
    check_http "http otel-collector" "http://localhost:13133/" "http://localhost:13133"
else
    api_port="$(setting ANALYTICS_API_PORT 3000)"
    ml_port="$(setting ML_SERVICE_PORT 8000)"
    web_port="$(setting WEB_PORT 3001)"
    metrics_port="$(setting WORKER_METRICS_PORT 9808)"
    # The hosts they listen on; 0.0.0.0 (every interface) answers on the loopback too.
    api_host="$(local_host "$(setting ANALYTICS_API_HOST 127.0.0.1)")"
    ml_host="$(local_host "$(setting ML_SERVICE_HOST 127.0.0.1)")"
    web_host="$(local_host "$(setting WEB_HOST 127.0.0.1)")"
    metrics_host="$(local_host "$(setting WORKER_METRICS_HOST 127.0.0.1)")"
    cli="$ROOT/.venv/bin/bi-agent"
    if [[ -x "$cli" ]]; then
        if (cd "$ROOT" && "$cli" health); then
            ok "bi-agent health" "every service answers"
        else
            bad "bi-agent health" "a service is down (table above)"
        fi
    else
        bad "bi-agent health" "$cli is missing; run \`make install\`"
    fi
    check_http "analytics-api" "http://$api_host:$api_port/health" "http://$api_host:$api_port (docs /docs)"
    check_http "ml-service" "http://$ml_host:$ml_port/health" "http://$ml_host:$ml_port (docs /docs)"
    check_http "web" "http://$web_host:$web_port/api/health" "http://$web_host:$web_port"
    if [[ "$metrics_port" != 0 ]]; then
        check_http "worker metrics" "http://$metrics_host:$metrics_port/metrics" "http://$metrics_host:$metrics_port/metrics"
    fi
fi

if ((FAILED == 0)); then
    printf '%sAll %d checks passed.%s\n' "$GREEN" "$PASSED" "$RESET"
    exit 0
fi
if ((PASSED == 0)); then
    if [[ "$MODE" == compose ]]; then
        printf '%sNothing is running: start it with: docker compose up -d%s\n' "$YELLOW" "$RESET"
    else
        printf '%sNothing is running: start it with: make up (or .venv/bin/bi-agent up)%s\n' "$YELLOW" "$RESET"
    fi
fi
printf '%s%d of %d checks failed.%s\n' "$RED" "$FAILED" "$((FAILED + PASSED))" "$RESET"
exit 1
