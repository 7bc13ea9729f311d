"""scripts/*.sh: shellcheck-clean, executable, `--help` answers, and the guards that matter
without a Docker engine: health-check.sh fails plainly when nothing runs, cleanup.sh
--volumes never deletes without a confirmation, and cleanup.sh stops a `bi-agent up` by the
pid in its lock file.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql
from sqlalchemy.engine import make_url

from bi_agent.infra.ports import free_port
from tests.conftest import SYSTEM_POSTGRES_URL, unavailable

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
# What the scripts share, sourced by them (not run on its own).
LIBRARY = ROOT / "scripts" / "lib" / "common.bash"
EXPECTED = {
    "setup-local-env.sh",
    "health-check.sh",
    "bootstrap-db.sh",
    "cleanup.sh",
    "view-logs.sh",
}


def _run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_scripts_of_the_issue_exist() -> None:
    assert {script.name for script in SCRIPTS} >= EXPECTED
    assert (ROOT / "scripts" / "init-pgvector.sql").is_file()


def test_shellcheck_passes_on_every_script() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        unavailable("shellcheck is not installed (Debian package `shellcheck`)")
        return
    result = _run([shellcheck, "--external-sources", "--severity=style", *map(str, SCRIPTS), str(LIBRARY)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_executable_and_answers_help(script: Path) -> None:
    assert script.stat().st_mode & stat.S_IXUSR, f"{script.name} is not executable (chmod +x)"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()
    git = shutil.which("git")
    if git is not None:
        staged = _run([git, "ls-files", "--stage", "--", str(script.relative_to(ROOT))]).stdout.split()
        if staged:  # tracked: the mode git records is the one a fresh checkout gets
            assert staged[0] == "100755", f"{script.name} has git mode {staged[0]}; git update-index --chmod=+x"
    result = _run([str(script), "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: scripts/" + script.name)
    assert "Exit codes" in result.stdout


def test_health_check_fails_clearly_when_nothing_runs(tmp_path: Path) -> None:
    ports = {
        name: str(free_port()) for name in ("ANALYTICS_API_PORT", "ML_SERVICE_PORT", "WEB_PORT", "WORKER_METRICS_PORT")
    }
    result = _run(
        [str(ROOT / "scripts" / "health-check.sh"), "--mode", "embedded", "--timeout", "2"],
        env={**ports, "BI_AGENT_HOME": str(tmp_path / "home")},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Nothing is running: start it with: make up" in result.stdout
    assert f"no answer from http://127.0.0.1:{ports['ANALYTICS_API_PORT']}/health" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not a terminal


def test_cleanup_volumes_refuses_without_confirmation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "postgres").mkdir(parents=True)
    for mode in ("embedded", "compose"):
        result = _run(
            [str(ROOT / "scripts" / "cleanup.sh"), "--volumes", "--mode", mode],
            env={"BI_AGENT_HOME": str(home)},
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "pass --yes to confirm" in result.stderr
        assert home.joinpath("postgres").is_dir()


LOCK_HOLDER = """
import fcntl, os, signal, sys, time
lock = open(sys.argv[1], "a+")
fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
lock.truncate(0)
lock.write(str(os.getpid()))
lock.flush()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("locked", flush=True)
time.sleep(60)
"""


def _checkout(folder: Path) -> Path:
    """A copy of what setup-local-env.sh reads and writes: scripts/ and .env.example."""
    shutil.copytree(ROOT / "scripts", folder / "scripts")
    shutil.copy2(ROOT / ".env.example", folder / ".env.example")
    return folder


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[:1] != "#")
    return dict(pairs)


def test_setup_makes_env_with_its_own_secrets_and_the_log_folders(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path / "checkout")
    environment = {"BI_AGENT_HOME": "", "BI_AGENT_ADMIN_USERNAME": ""}
    result = _run([str(checkout / "scripts" / "setup-local-env.sh")], env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    example, made = _env_file(checkout / ".env.example"), _env_file(checkout / ".env")
    assert made.keys() == example.keys()
    # Secrets of its own, never the example's, and not shown on the terminal.
    assert example["BI_AGENT_ADMIN_PASSWORD"] == ""
    assert re.fullmatch(r"[A-Za-z0-9]{24}", made["BI_AGENT_ADMIN_PASSWORD"])
    generated = {
        "JWT_SECRET": 48,
        "DB_PASSWORD": 32,
        "REDIS_PASSWORD": 32,
        "MINIO_ROOT_USER": 20,
        "MINIO_ROOT_PASSWORD": 40,
        "GRAFANA_ADMIN_PASSWORD": 24,
        "BI_AGENT_ADMIN_PASSWORD": 24,
    }
    for name, length in generated.items():
        assert example[name] == "", name
        assert re.fullmatch(rf"[A-Za-z0-9]{{{length}}}", made[name]), name
        assert made[name] not in result.stdout + result.stderr, name
    assert {key for key in made if made[key] != example[key]} == set(generated)
    assert stat.S_IMODE((checkout / ".env").stat().st_mode) == 0o600
    assert "the web's login is admin / BI_AGENT_ADMIN_PASSWORD in .env" in result.stdout
    for service in ("analytics-api", "ml-service", "celery-worker", "celery-beat"):
        folder = checkout / "logs" / service
        # The containers' user (uid 10001) may write there: owner when run as root, else all.
        assert folder.stat().st_uid == 10001 if os.getuid() == 0 else folder.stat().st_mode & stat.S_IWOTH
    assert (checkout / ".bi-agent").is_dir()

    # Run again: .env is kept; an emptied admin password (as `cp .env.example .env` leaves it) and a
    # published default (an old .env's minioadmin) are replaced by random ones.
    env_file = checkout / ".env"
    text = re.sub(r"(?m)^BI_AGENT_ADMIN_PASSWORD=.*$", "BI_AGENT_ADMIN_PASSWORD=", env_file.read_text())
    env_file.write_text(re.sub(r"(?m)^MINIO_ROOT_PASSWORD=.*$", "MINIO_ROOT_PASSWORD=minioadmin", text))
    again = _run([str(checkout / "scripts" / "setup-local-env.sh")], env=environment)
    assert again.returncode == 0 and ".env exists; left as it is" in again.stdout
    refilled = _env_file(env_file)
    assert refilled["JWT_SECRET"] == made["JWT_SECRET"]
    assert re.fullmatch(r"[A-Za-z0-9]{24}", refilled["BI_AGENT_ADMIN_PASSWORD"])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", refilled["MINIO_ROOT_PASSWORD"])


def test_cleanup_stops_bi_agent_up_by_its_lock_and_deletes_home_with_yes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # Stands in for `bi-agent up`: holds $BI_AGENT_HOME/up.lock with its pid, as the supervisor does.
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(home / "up.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = _run(
            [str(ROOT / "scripts" / "cleanup.sh"), "--volumes", "--yes", "--mode", "embedded"],
            env={"BI_AGENT_HOME": str(home)},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"stopping bi-agent up (pid {holder.pid})" in result.stdout
        assert holder.wait(timeout=5) == 0
        assert not home.exists()
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGKILL)
            holder.wait()


def test_cleanup_ignores_a_stale_lock_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A lock file left by a stopped `bi-agent up`, naming a pid that now belongs to another process.
    (home / "up.lock").write_text(str(os.getpid()))
    with (home / "up.lock").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)  # proves nobody holds it exclusively
        fcntl.flock(lock, fcntl.LOCK_UN)
    started = time.monotonic()
    result = _run([str(ROOT / "scripts" / "cleanup.sh"), "--mode", "embedded"], env={"BI_AGENT_HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no bi-agent up is running" in result.stdout
    assert home.is_dir() and time.monotonic() - started < 10


def test_view_logs_follows_what_exists_in_embedded_mode(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = str(ROOT / "scripts" / "view-logs.sh")
    env = {"BI_AGENT_HOME": str(home)}
    missing = _run([script, "--mode", "embedded", "--no-follow"], env=env)
    assert missing.returncode == 1 and "no log under" in missing.stderr
    (home / "valkey").mkdir(parents=True)
    (home / "valkey" / "valkey.log").write_text("Ready to accept connections\n")
    shown = _run([script, "redis", "--mode", "embedded", "--no-follow", "--tail", "5"], env=env)
    assert shown.returncode == 0 and "Ready to accept connections" in shown.stdout
    api = _run([script, "analytics-api", "--mode", "embedded", "--no-follow"], env=env)
    assert api.returncode == 1 and "no log under" in api.stderr and "for analytics-api" in api.stderr
    # What `bi-agent up` appends for each of its processes.
    (home / "logs").mkdir()
    (home / "logs" / "analytics-api.log").write_text("Uvicorn running on http://127.0.0.1:3000\n")
    api = _run([script, "analytics-api", "--mode", "embedded", "--no-follow"], env=env)
    assert api.returncode == 0 and "Uvicorn running" in api.stdout
    everything = _run([script, "--mode", "embedded", "--no-follow"], env=env)
    assert "Uvicorn running" in everything.stdout and "Ready to accept connections" in everything.stdout
    unknown = _run([script, "grafana", "--mode", "embedded", "--no-follow"], env=env)
    assert unknown.returncode == 1 and "unknown embedded service: grafana" in unknown.stderr


FAKE_DOCKER = """#!/usr/bin/env bash
# Answers as Docker with compose v2 and a running daemon would; records every call.
echo "$*" >> "$DOCKER_CALLS"
case "$1 ${2:-}" in
    "compose version") echo "Docker Compose version v2.24.0" ;;
    "info "*) ;;
    "compose ps") echo "id-${!#}" ;;
    "inspect -f")
        case "$3" in
            *ExitCode*) echo "exited 0" ;;
            *) [[ "$4" == id-grafana ]] && echo "running unhealthy" || echo "running healthy" ;;
        esac
        ;;
esac
"""


def test_compose_mode_is_detected_and_drives_docker_compose(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    calls = tmp_path / "calls"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DOCKER_CALLS": str(calls)}

    health = _run([str(ROOT / "scripts" / "health-check.sh"), "--timeout", "1"], env=env)
    assert "BI-Agent health (compose mode)" in health.stdout
    assert "[ ok ] postgres" in health.stdout and "[ ok ] migrate" in health.stdout
    assert "[FAIL] grafana                running, health unhealthy" in health.stdout
    assert health.returncode == 1
    assert "compose ps -a -q celery-beat" in calls.read_text()

    calls.write_text("")
    cleanup = _run([str(ROOT / "scripts" / "cleanup.sh"), "--volumes", "--yes"], env=env)
    assert cleanup.returncode == 0, cleanup.stderr
    assert "compose down -v --remove-orphans" in calls.read_text().splitlines()

    calls.write_text("")
    logs = _run([str(ROOT / "scripts" / "view-logs.sh"), "web", "--tail", "20"], env=env)
    assert logs.returncode == 0, logs.stderr
    assert calls.read_text().splitlines()[-1] == "compose logs --tail 20 --follow web"


DOCUMENTS = ("DOCKER_COMPOSE.md", "DEPLOYMENT.md", "INFRASTRUCTURE_STACK.md")


def test_documents_name_only_scripts_that_exist_and_every_published_port() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    texts = {name: (ROOT / name).read_text() for name in DOCUMENTS}
    readme = (ROOT / "README.md").read_text()
    assert all(f"]({name})" in readme for name in DOCUMENTS)
    for name, text in texts.items():
        for script in set(re.findall(r"scripts/[\w.-]+\.(?:sh|sql)", text)):
            assert (ROOT / script).is_file(), f"{name} names {script}, which does not exist"
    reference = texts["DOCKER_COMPOSE.md"]
    for service, spec in compose["services"].items():
        assert f"| {service} |" in reference or f"| {service}," in reference, service
        for mapping in spec.get("ports", []):
            host = str(mapping).rsplit(":", 2)[-2]  # [address:]host:container
            assert host in reference, f"{service}'s host port {host} is not in DOCKER_COMPOSE.md"


def test_bootstrap_db_makes_the_role_and_database_once_and_says_what_the_server_lacks(tmp_path: Path) -> None:
    """Against the machine's PostgreSQL 15, which has uuid-ossp but not pgvector."""
    if shutil.which("psql") is None:
        unavailable("psql is not installed (Debian package `postgresql-client`)")
        return
    server = make_url(SYSTEM_POSTGRES_URL)
    name = f"bi_boot_{uuid.uuid4().hex[:10]}"
    password = f"pw-{uuid.uuid4().hex}"
    environment = {
        "PGHOST": server.host or "127.0.0.1",
        "PGPORT": str(server.port or 5432),
        "PGUSER": server.username or "postgres",
        "APP_DB_USER": name,
        "APP_DB_NAME": name,
        "APP_DB_PASSWORD": password,
    }
    try:
        runs = [_run([str(ROOT / "scripts" / "bootstrap-db.sh"), "--timeout", "5"], env=environment) for _ in range(2)]
        with psycopg.connect(SYSTEM_POSTGRES_URL, autocommit=True) as connection:
            owner = connection.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            login = connection.execute(
                "SELECT rolcanlogin, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", (name,)
            ).fetchone()
    finally:
        with psycopg.connect(SYSTEM_POSTGRES_URL, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    assert owner == (name,) and login == (True, True)
    for run in runs:
        # The second run finds both and changes nothing; neither shows the password.
        assert f"role {name} and database {name} are ready" in run.stdout, run.stdout + run.stderr
        assert password not in run.stdout + run.stderr
        # No pgvector on this server: the script stops there and says what it needs.
        assert run.returncode == 1 and 'extension "vector" is not available' in run.stderr
        assert "it needs the vector and uuid-ossp extensions installed on the server" in run.stderr


def test_bootstrap_db_gives_up_after_its_timeout_when_nothing_answers() -> None:
    if shutil.which("pg_isready") is None:
        unavailable("pg_isready is not installed (Debian package `postgresql-client`)")
        return
    environment = {"PGHOST": "127.0.0.1", "PGPORT": str(free_port()), "APP_DB_PASSWORD": "unused"}
    started = time.monotonic()
    result = _run([str(ROOT / "scripts" / "bootstrap-db.sh"), "--timeout", "2"], env=environment)
    assert result.returncode == 1 and "did not accept connections within 2s" in result.stderr
    assert time.monotonic() - started < 20
    missing = _run([str(ROOT / "scripts" / "bootstrap-db.sh")], env={"APP_DB_PASSWORD": ""})
    assert missing.returncode == 2 and "set APP_DB_PASSWORD" in missing.stderr
