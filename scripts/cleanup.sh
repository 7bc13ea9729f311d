#!/usr/bin/env bash
# Stops BI-Agent and removes its containers; with --volumes, its data too. See --help.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'USAGE'
Usage: scripts/cleanup.sh [--volumes] [--yes] [--mode compose|embedded]

Stops BI-Agent and removes what it started.

Modes (detected unless --mode is given):
  compose   `docker compose` (or docker-compose) is installed and the Docker daemon answers:
            `docker compose down --remove-orphans` (containers and networks); with --volumes,
            `docker compose down -v --remove-orphans`, which deletes the named volumes
            (postgres_data, redis_data, minio_data, prometheus_data, grafana_data).
  embedded  otherwise: stops a running `bi-agent up` for BI_AGENT_HOME (environment, then
            .env, default .bi-agent) by sending SIGTERM to the pid in $BI_AGENT_HOME/up.lock
            (it stops its processes and embedded servers in order; waits up to 60 s); with
            --volumes, then deletes the BI_AGENT_HOME folder (the embedded PostgreSQL,
            Valkey and SeaweedFS data).

Options:
  --volumes   also delete the data; asks for "yes" on the terminal first
  --yes       do not ask (needed for --volumes when stdin is not a terminal)
  --mode MODE compose or embedded instead of detecting it
  -h, --help  this text

Exit codes: 0 done (or nothing to stop); 1 failed, or --volumes refused without
confirmation; 2 bad usage.
USAGE
}

VOLUMES=0
YES=0
MODE=""
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --volumes | -v) VOLUMES=1; shift ;;
        --yes | -y) YES=1; shift ;;
        --mode) MODE="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
        *) echo "error: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$MODE" in "" | compose | embedded) ;; *) echo "error: --mode is compose or embedded" >&2; exit 2 ;; esac

# shellcheck source=scripts/lib/common.bash
source "$ROOT/scripts/lib/common.bash"

# --volumes deletes data: only after "yes" typed on a terminal, or --yes.
confirm() {
    local what="$1" answer=""
    ((YES)) && return 0
    if [[ ! -t 0 ]]; then
        echo "error: --volumes would delete $what; stdin is not a terminal, so pass --yes to confirm" >&2
        exit 1
    fi
    read -r -p "This deletes $what. Type yes to continue: " answer
    if [[ "$answer" != yes ]]; then
        echo "cancelled; nothing deleted" >&2
        exit 1
    fi
}

# Running, and not a zombie its parent has yet to reap.
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
    [[ "$state" != Z* ]]
}

MODE="${MODE:-$(detect_mode)}"
cd "$ROOT"

if [[ "$MODE" == compose ]]; then
    read -r -a COMPOSE <<<"$(compose_command || echo "docker compose")"
    if ((VOLUMES)); then
        confirm "the volumes postgres_data, redis_data, minio_data, prometheus_data and grafana_data"
        "${COMPOSE[@]}" down -v --remove-orphans
    else
        "${COMPOSE[@]}" down --remove-orphans
    fi
    exit 0
fi

home="$(setting BI_AGENT_HOME .bi-agent)"
[[ "$home" == /* ]] || home="$ROOT/$home"
if ((VOLUMES)); then
    # Ask before stopping anything: a refusal leaves everything as it was.
    confirm "$home (the embedded servers' data)"
fi
lock="$home/up.lock"
pid=""
if [[ -f "$lock" ]]; then
    pid="$(tr -dc '0-9' <"$lock")"
fi
# The pid in up.lock is current only while its `bi-agent up` holds the lock.
if [[ -n "$pid" ]] && ! flock -n "$lock" true 2>/dev/null && alive "$pid"; then
    echo "stopping bi-agent up (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 120); do
        alive "$pid" || break
        sleep 0.5
    done
    if alive "$pid"; then
        echo "error: bi-agent up (pid $pid) still runs after 60 s; look at its terminal" >&2
        exit 1
    fi
    echo "stopped"
else
    echo "no bi-agent up is running for BI_AGENT_HOME=$home"
fi
if ((VOLUMES)); then
    if [[ -d "$home" ]]; then
        rm -rf -- "$home"
        echo "deleted $home"
    else
        echo "$home does not exist"
    fi
fi
