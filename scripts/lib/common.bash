# Shared by scripts/*.sh (sourced after they set ROOT): settings and how BI-Agent runs here.
# shellcheck shell=bash

# A setting from the environment, else from .env (KEY=value lines, never sourced), else a default.
setting() {
    local name="$1" default="$2" value=""
    if [[ -n "${!name:-}" ]]; then
        printf '%s\n' "${!name}"
        return
    fi
    if [[ -f "$ROOT/.env" ]]; then
        value="$(sed -n "s/^[[:space:]]*${name}=[[:space:]]*//p" "$ROOT/.env" | tail -n 1 | sed 's/^["'\'']//; s/["'\'']$//')"
    fi
    printf '%s\n' "${value:-$default}"
}

# `docker compose` (v2) or `docker-compose` (v1), whichever is installed.
compose_command() {
    if docker compose version >/dev/null 2>&1; then
        echo "docker compose"
    elif command -v docker-compose >/dev/null 2>&1; then
        echo "docker-compose"
    else
        return 1
    fi
}

# compose when compose is installed and the Docker daemon answers; else the embedded mode.
detect_mode() {
    if command -v docker >/dev/null 2>&1 && compose_command >/dev/null && docker info >/dev/null 2>&1; then
        echo compose
    else
        echo embedded
    fi
}
