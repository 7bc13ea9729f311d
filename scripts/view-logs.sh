#!/usr/bin/env bash
# Shows (and follows) the logs of one BI-Agent service or all of them. See --help.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'USAGE'
Usage: scripts/view-logs.sh [SERVICE] [--no-follow] [--tail N] [--mode compose|embedded]

Shows the last lines of a service's log and follows it (Ctrl-C ends); no SERVICE = all.

Modes (detected unless --mode is given):
  compose   `docker compose` (or docker-compose) is installed and the Docker daemon answers:
            `docker compose logs --follow --tail N [SERVICE]`. Services: postgres, redis, minio,
            migrate, minio-init, analytics-api, ml-service, celery-worker, celery-beat, web,
            otel-collector, jaeger, prometheus, grafana.
  embedded  otherwise. `bi-agent up` prints its processes' output to its terminal and
            appends it to a file each; the embedded servers write their own. All under
            BI_AGENT_HOME (environment, then .env, default .bi-agent):
              analytics-api, ml-service, celery-worker, celery-beat, web
                         $BI_AGENT_HOME/logs/<service>.log
              redis      $BI_AGENT_HOME/valkey/valkey.log
              s3         $BI_AGENT_HOME/s3/seaweedfs.log
              postgres   $BI_AGENT_HOME/postgres/log
            This script follows those (SERVICE: one of the names above; none = all).

Options:
  --no-follow  print and exit
  --tail N     lines to show first (default 100)
  --mode MODE  compose or embedded instead of detecting it
  -h, --help   this text

Exit codes: 0 shown (or Ctrl-C); 1 no such log or service; 2 bad usage.
USAGE
}

SERVICE=""
FOLLOW=1
TAIL=100
MODE=""
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --no-follow) FOLLOW=0; shift ;;
        --tail) TAIL="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
        --mode) MODE="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
        -*) echo "error: unknown option: $1 (see --help)" >&2; exit 2 ;;
        *)
            [[ -z "$SERVICE" ]] || { echo "error: one service at most (see --help)" >&2; exit 2; }
            SERVICE="$1"
            shift
            ;;
    esac
done
case "$MODE" in "" | compose | embedded) ;; *) echo "error: --mode is compose or embedded" >&2; exit 2 ;; esac
[[ "$TAIL" =~ ^[0-9]+$ ]] || { echo "error: --tail takes a number" >&2; exit 2; }

# shellcheck source=scripts/lib/common.bash
source "$ROOT/scripts/lib/common.bash"

MODE="${MODE:-$(detect_mode)}"
cd "$ROOT"

if [[ "$MODE" == compose ]]; then
    read -r -a COMPOSE <<<"$(compose_command || echo "docker compose")"
    args=(logs --tail "$TAIL")
    ((FOLLOW)) && args+=(--follow)
    [[ -n "$SERVICE" ]] && args+=("$SERVICE")
    exec "${COMPOSE[@]}" "${args[@]}"
fi

home="$(setting BI_AGENT_HOME .bi-agent)"
[[ "$home" == /* ]] || home="$ROOT/$home"
files=()
add_logs() {
    case "$1" in
        redis) [[ -f "$home/valkey/valkey.log" ]] && files+=("$home/valkey/valkey.log") ;;
        s3) [[ -f "$home/s3/seaweedfs.log" ]] && files+=("$home/s3/seaweedfs.log") ;;
        postgres) [[ -f "$home/postgres/log" ]] && files+=("$home/postgres/log") ;;
        *) [[ -f "$home/logs/$1.log" ]] && files+=("$home/logs/$1.log") ;;
    esac
    return 0
}
SERVERS=(postgres redis s3)
PROCESSES=(analytics-api ml-service celery-worker celery-beat web)
case "$SERVICE" in
    "") for name in "${SERVERS[@]}" "${PROCESSES[@]}"; do add_logs "$name"; done ;;
    postgres | redis | s3 | analytics-api | ml-service | celery-worker | celery-beat | web) add_logs "$SERVICE" ;;
    *)
        echo "error: unknown embedded service: $SERVICE (${SERVERS[*]} ${PROCESSES[*]}; see --help)" >&2
        exit 1
        ;;
esac
if ((${#files[@]} == 0)); then
    echo "error: no log under $home${SERVICE:+ for $SERVICE}; has \`make up\` run here?" >&2
    exit 1
fi
if ((FOLLOW)); then
    exec tail -n "$TAIL" -F -- "${files[@]}"
fi
exec tail -n "$TAIL" -- "${files[@]}"
