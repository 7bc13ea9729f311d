"""Settings: names a compose deployment uses, fail-fast validation, production refusals."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from bi_agent.analytics_api.app import create_app
from bi_agent.errors import ConfigurationError
from bi_agent.infra.home import HomeSecrets
from bi_agent.infra.registry import ServerRegistry
from bi_agent.ml_service.app import create_app as create_ml_app
from bi_agent.settings import Settings, load_settings
from bi_agent.supervisor import process_specs
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
STRONG_SECRET = "s" * 40
# The development default earlier releases shipped in settings.py, .env.example and compose.
PUBLISHED_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production-0123456789"


def load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **environment: str) -> Settings:
    """load_settings() as a process would: from the environment, with no .env in the folder."""
    monkeypatch.chdir(tmp_path)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_defaults_embed_every_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load(monkeypatch, tmp_path)
    assert settings.app_env == "development"
    assert settings.db_name == "analytics_db"
    assert settings.buckets == ("models", "datasets", "logs")
    assert (settings.embeds_postgres, settings.embeds_redis, settings.embeds_s3) == (True, True, True)
    assert (settings.analytics_api_port, settings.ml_service_port) == (3000, 8000)


def test_db_parts_build_a_psycopg_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load(monkeypatch, tmp_path, DB_HOST="db.internal", DB_PORT="6543", DB_USER="bi", DB_PASSWORD="p@ss:word")
    url = settings.postgres_url()
    assert (url.drivername, url.host, url.port, url.username, url.database) == (
        "postgresql+psycopg",
        "db.internal",
        6543,
        "bi",
        "analytics_db",
    )
    assert url.password == "p@ss:word"
    assert not settings.embeds_postgres


def test_database_url_wins_and_gets_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load(monkeypatch, tmp_path, DATABASE_URL="postgresql://u:p@h:5432/metrics", DB_HOST="ignored.example")
    url = settings.postgres_url()
    assert (url.drivername, url.host, url.database) == ("postgresql+psycopg", "h", "metrics")


def test_redis_parts_and_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parts = load(monkeypatch, tmp_path, REDIS_HOST="cache", REDIS_PORT="6380", REDIS_PASSWORD="a/b")
    assert parts.redis_address() == "redis://:a%2Fb@cache:6380/0"
    url = load(monkeypatch, tmp_path, REDIS_URL="redis://other:6379/2")
    assert url.redis_address() == "redis://other:6379/2"


def test_minio_endpoint_without_scheme(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load(monkeypatch, tmp_path, MINIO_ENDPOINT="minio:9000").s3_endpoint() == "http://minio:9000"


def test_blank_host_means_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load(monkeypatch, tmp_path, DB_HOST="", REDIS_URL="  ")
    assert settings.embeds_postgres and settings.embeds_redis


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DB_HOST=from-dotenv\nHIPAA_MODE=true\n")
    settings = load(monkeypatch, tmp_path)
    assert settings.db_host == "from-dotenv"
    assert settings.hipaa_mode is True


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "DATABASE_URL: is not a URL"),
        ("mysql://root@localhost/db", "DATABASE_URL: must use the postgresql scheme"),
        ("postgresql://user:secret-pw@localhost", "DATABASE_URL: names no database"),
    ],
)
def test_malformed_database_url_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(monkeypatch, tmp_path, DATABASE_URL=url)
    message = str(caught.value)
    assert expected in message
    assert "secret-pw" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DB_PORT", "seventy"),
        ("HIPAA_MIN_CELL_SIZE", "0"),
        ("APP_ENV", "staging"),
        ("REDIS_URL", "http://x"),
        # Names and "*" too: trusting every peer's X-Forwarded-For lets any client pick its address.
        ("FORWARDED_ALLOW_IPS", "web"),
        ("FORWARDED_ALLOW_IPS", "*"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"^invalid settings: {variable}: "):
        load(monkeypatch, tmp_path, **{variable: value})


def test_forwarded_allow_ips_become_uvicorns_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    servers = {"analytics-api", "ml-service"}
    # Empty by default, and said outright: uvicorn left to itself believes the loopback.
    assert make_settings().forwarded_allow_ips == ""
    for spec in process_specs(make_settings()):
        if spec.name in servers:
            assert "--no-proxy-headers" in spec.argv and "--forwarded-allow-ips" not in spec.argv, spec.name
    listed = load(monkeypatch, tmp_path, FORWARDED_ALLOW_IPS=" 10.0.0.5 , 172.28.0.0/24 ,")
    assert listed.forwarded_allow_ips == "10.0.0.5,172.28.0.0/24"
    for spec in process_specs(listed):
        if spec.name in servers:
            assert spec.argv[spec.argv.index("--forwarded-allow-ips") + 1] == "10.0.0.5,172.28.0.0/24"


PRODUCTION_SAFE = {
    "APP_ENV": "production",
    "JWT_SECRET": STRONG_SECRET,
    "DB_HOST": "db",
    "DB_PASSWORD": "a-real-db-password",
    "MINIO_ENDPOINT": "minio:9000",
    "MINIO_ROOT_PASSWORD": "a-real-minio-password",
}


def test_production_accepts_own_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load(monkeypatch, tmp_path, **PRODUCTION_SAFE).app_env == "production"


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"JWT_SECRET": PUBLISHED_JWT_SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": ""}, "JWT_SECRET"),
        ({"MINIO_ROOT_PASSWORD": ""}, "MINIO_ROOT_PASSWORD"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"DB_PASSWORD": "postgres"}, "DB_PASSWORD"),
        ({"DB_PASSWORD": ""}, "DB_PASSWORD"),
        ({"MINIO_ROOT_PASSWORD": "minioadmin"}, "MINIO_ROOT_PASSWORD"),
        ({"DATABASE_URL": "postgresql://bi:postgres@db/analytics_db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://bi@db/analytics_db"}, "DATABASE_URL"),
        ({"BI_AGENT_ADMIN_PASSWORD": "admin"}, "BI_AGENT_ADMIN_PASSWORD"),
    ],
)
def test_production_refuses_default_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, override: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(monkeypatch, tmp_path, **{**PRODUCTION_SAFE, **override})
    assert variable in str(caught.value)


def test_there_is_no_default_database_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load(monkeypatch, tmp_path, DB_HOST="db.internal")
    assert settings.db_password is None
    assert settings.postgres_url().password is None


def test_there_is_no_default_jwt_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load(monkeypatch, tmp_path, APP_ENV="development")
    assert settings.jwt_secret is None
    with pytest.raises(ConfigurationError, match=r"^JWT_SECRET is not set.*bi-agent up"):
        settings.signing_secret()


@pytest.mark.parametrize("factory", [create_app, create_ml_app], ids=["analytics-api", "ml-service"])
def test_a_service_without_a_jwt_secret_refuses_to_start(tmp_path: Path, factory: object) -> None:
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        factory(Settings(_env_file=None, bi_agent_home=tmp_path))  # type: ignore[operator]


@pytest.mark.parametrize("secret", [PUBLISHED_JWT_SECRET, "short"])
def test_a_published_or_short_jwt_secret_is_refused_in_every_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"^invalid settings: JWT_SECRET: "):
        load(monkeypatch, tmp_path, APP_ENV="development", JWT_SECRET=secret)


def test_each_home_generates_its_own_credentials_once(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    made = HomeSecrets.ensure(first)
    assert HomeSecrets.ensure(first) == made
    assert HomeSecrets.read(first) == made
    other = HomeSecrets.ensure(second)
    assert {made.jwt_secret, made.redis_password, made.s3_secret_key}.isdisjoint(
        {other.jwt_secret, other.redis_password, other.s3_secret_key}
    )
    assert (HomeSecrets.path(first).stat().st_mode & 0o777) == 0o600
    settings = make_settings(bi_agent_home=first)
    assert settings.signing_secret() == made.jwt_secret
    assert settings.s3_credentials() == (made.s3_access_key, made.s3_secret_key)


def test_an_older_home_gets_the_credentials_it_lacks_and_keeps_its_own(tmp_path: Path) -> None:
    # secrets.json as written before SeaweedFS had keys of its own.
    older = {
        "jwt_secret": "j" * 48,
        "redis_password": "r" * 48,
        "s3_access_key": "bi-agent-a",
        "s3_secret_key": "s" * 40,
    }
    HomeSecrets.path(tmp_path).write_text(json.dumps(older))
    HomeSecrets.path(tmp_path).chmod(0o600)
    read = HomeSecrets.read(tmp_path)
    assert read is not None and read.missing() == HomeSecrets.later_fields()
    with pytest.raises(ConfigurationError, match="lack"):
        read.seaweedfs_keys()
    assert make_settings(bi_agent_home=tmp_path).signing_secret() == "j" * 48

    upgraded = HomeSecrets.ensure(tmp_path)
    assert not upgraded.missing()
    assert {name: getattr(upgraded, name) for name in older} == older
    assert len(set(upgraded.seaweedfs_keys().values())) == 4
    assert HomeSecrets.read(tmp_path) == upgraded == HomeSecrets.ensure(tmp_path)
    assert json.loads(HomeSecrets.path(tmp_path).read_text()).keys() >= older.keys()
    assert (HomeSecrets.path(tmp_path).stat().st_mode & 0o777) == 0o600


def test_the_environment_wins_over_the_home(tmp_path: Path) -> None:
    HomeSecrets.ensure(tmp_path)
    settings = make_settings(
        bi_agent_home=tmp_path, jwt_secret=STRONG_SECRET, minio_root_user="me", minio_root_password="mine-" * 8
    )
    assert settings.signing_secret() == STRONG_SECRET
    assert settings.s3_credentials() == ("me", "mine-" * 8)


def test_s3_without_keys_names_the_variables(tmp_path: Path) -> None:
    settings = make_settings(bi_agent_home=tmp_path, minio_endpoint="minio:9000")
    with pytest.raises(ConfigurationError, match="MINIO_ROOT_USER and MINIO_ROOT_PASSWORD are not set"):
        settings.s3_credentials()


def test_a_secrets_file_others_could_write_or_with_short_secrets_is_refused(tmp_path: Path) -> None:
    HomeSecrets.ensure(tmp_path)
    path = HomeSecrets.path(tmp_path)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match=r"not owned by this user with mode 0600 \(it is 644\)"):
        make_settings(bi_agent_home=tmp_path)
    path.chmod(0o600)
    planted = json.loads(path.read_text()) | {"jwt_secret": "short"}
    path.write_text(json.dumps(planted))
    with pytest.raises(ConfigurationError, match="jwt_secret shorter than 32"):
        make_settings(bi_agent_home=tmp_path)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MINIO_ROOT_USER", "minioadmin"), ("MINIO_ROOT_PASSWORD", "minioadmin"), ("MINIO_ROOT_PASSWORD", "short")],
)
def test_minio_default_or_short_keys_are_refused_in_every_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"^invalid settings: {variable}: "):
        load(monkeypatch, tmp_path, APP_ENV="development", **{variable: value})


def test_a_damaged_secrets_file_is_named(tmp_path: Path) -> None:
    HomeSecrets.path(tmp_path).write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"secrets\.json cannot be read"):
        make_settings(bi_agent_home=tmp_path)


def test_embedded_address_needs_a_running_up(tmp_path: Path) -> None:
    settings = make_settings(bi_agent_home=tmp_path)
    with pytest.raises(ConfigurationError, match=r"no embedded postgres is running.*bi-agent up.*DATABASE_URL"):
        settings.postgres_url()


def test_embedded_address_comes_from_the_registry_and_the_password_from_the_home(tmp_path: Path) -> None:
    password = HomeSecrets.ensure(tmp_path).redis_password
    ServerRegistry(tmp_path).write(os.getpid(), {"redis": f"redis://:{password}@127.0.0.1:1234/0"})
    assert password not in ServerRegistry(tmp_path).path.read_text()
    assert make_settings(bi_agent_home=tmp_path).redis_address() == f"redis://:{password}@127.0.0.1:1234/0"


def test_registry_of_a_dead_owner_is_ignored(tmp_path: Path) -> None:
    ServerRegistry(tmp_path).write(2**22 + 12345, {"redis": "redis://127.0.0.1:1234/0"})
    with pytest.raises(ConfigurationError):
        make_settings(bi_agent_home=tmp_path).redis_address()


def test_env_example_documents_every_setting() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = {}
    for index, line in enumerate(lines):
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            documented[match.group(1)] = index
            comment = lines[index - 1] if index else ""
            assert comment.startswith("# "), f"{match.group(1)} in .env.example has no comment line above it"
    missing = {name.upper() for name in Settings.model_fields} - set(documented)
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_loads_as_a_working_development_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    settings = load(monkeypatch, tmp_path)
    assert settings.app_env == "development"
