"""Every setting of the platform, typed and validated once.

The names are the ones a compose deployment uses (`DB_HOST`, `REDIS_URL`,
`MINIO_ENDPOINT`...). When neither a URL nor a host is given for PostgreSQL, Redis
or S3, the platform runs the embedded server for it: `bi-agent up` starts it under
`BI_AGENT_HOME` and records where it listens, so other processes find it there.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bi_agent.errors import ConfigurationError
from bi_agent.infra.home import HomeSecrets
from bi_agent.infra.registry import ServerRegistry

# PostgreSQL's superuser, the default user here; images and tutorials give it its own name as
# password, which production refuses (whatever the user).
DEFAULT_DB_USER = "postgres"
PUBLISHED_DB_PASSWORD = DEFAULT_DB_USER
# Credentials published in documentation, old .env files and images: never accepted.
PUBLISHED_JWT_SECRETS = frozenset({"dev-only-jwt-secret-change-me-in-production-0123456789"})
# MinIO's image default (user and password), refused in every mode.
PUBLISHED_MINIO_CREDENTIAL = "minioadmin"
# MinIO's own minimum for a secret key.
MIN_S3_SECRET_LENGTH = 8
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """The platform's configuration, read from the environment and `.env`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    # The embedded Valkey's password, from the home's secrets (never an environment variable).
    _home_redis_password: str | None = PrivateAttr(default=None)

    app_env: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # json: one object a line with the trace id (containers, log shippers); text for a terminal.
    log_format: Literal["text", "json"] = "text"
    # A folder each service also appends its JSON lines to, as <service>.log (compose: /var/log/bi-agent).
    log_dir: Path | None = None
    bi_agent_home: Path = Path(".bi-agent")

    # PostgreSQL: DATABASE_URL wins over the DB_* parts.
    database_url: str | None = None
    db_host: str | None = None
    db_port: int = Field(default=5432, ge=1, le=65535)
    db_name: str = "analytics_db"
    db_user: str = DEFAULT_DB_USER
    # Unset: none is sent (the server trusts the client, or libpq finds one in ~/.pgpass).
    db_password: SecretStr | None = None
    db_pool_size: int = Field(default=5, ge=1)
    db_connect_timeout_seconds: int = Field(default=5, ge=1)

    # Redis: REDIS_URL wins over the REDIS_* parts.
    redis_url: str | None = None
    redis_host: str | None = None
    redis_port: int = Field(default=6379, ge=1, le=65535)
    redis_db: int = Field(default=0, ge=0)
    redis_password: SecretStr | None = None

    # S3 (MinIO in compose, SeaweedFS embedded).
    minio_endpoint: str | None = None
    # Unset with the embedded S3: its keys are generated in BI_AGENT_HOME (infra/home.py).
    minio_root_user: str | None = None
    minio_root_password: SecretStr | None = None
    minio_region: str = "us-east-1"
    minio_bucket_models: str = "models"
    minio_bucket_datasets: str = "datasets"
    minio_bucket_logs: str = "logs"

    # Security. Unset JWT_SECRET: `bi-agent up` generates one in BI_AGENT_HOME; else no start.
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_expire_minutes: int = Field(default=60, ge=1)
    hipaa_mode: bool = False
    hipaa_min_cell_size: int = Field(default=11, ge=1)
    # In HIPAA mode these replace ACCESS_TOKEN_EXPIRE_MINUTES: short tokens, refreshed only while active.
    hipaa_access_token_expire_minutes: int = Field(default=15, ge=1)
    hipaa_idle_timeout_minutes: int = Field(default=15, ge=1)
    bi_agent_admin_username: str = "admin"
    bi_agent_admin_password: SecretStr | None = None
    # Failed logins (security/throttle.py): a client waits LOGIN_DELAY_SECONDS after this many
    # failures for one username, twice as long after each further one, at most LOGIN_MAX_DELAY_SECONDS.
    login_failures_before_delay: int = Field(default=5, ge=1)
    # The same wait for every login of a client after this many failures, whatever the usernames.
    login_failures_per_client: int = Field(default=20, ge=1)
    # A username failed this often from anywhere: each client waits after its first failure for it.
    login_failures_per_account: int = Field(default=20, ge=1)
    login_delay_seconds: int = Field(default=30, ge=1)
    login_max_delay_seconds: int = Field(default=900, ge=1)
    # A count is forgotten this long after its last failure.
    login_failure_memory_seconds: int = Field(default=3600, ge=1)
    # Peers whose X-Forwarded-For the HTTP services believe (comma-separated addresses or networks,
    # given to uvicorn as --forwarded-allow-ips); empty: nobody, the peer is the client.
    forwarded_allow_ips: str = ""

    # Services.
    analytics_api_host: str = "127.0.0.1"
    analytics_api_port: int = Field(default=3000, ge=1, le=65535)
    ml_service_host: str = "127.0.0.1"
    ml_service_port: int = Field(default=8000, ge=1, le=65535)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=3001, ge=1, le=65535)
    # The Next.js app (its build is .next/standalone/server.js); unset means the repository's web/.
    web_dir: Path | None = None
    # Consoles the web's home page links to, where they run.
    grafana_url: str | None = None
    jaeger_url: str | None = None
    prometheus_url: str | None = None
    minio_console_url: str | None = None
    celery_worker_concurrency: int = Field(default=2, ge=1)
    # Beat sleeps at most this long between ticks, which bounds how late a schedule change is
    # seen; its lock lasts five intervals, so a standby beat takes over within six.
    celery_beat_interval_seconds: int = Field(default=30, ge=1, le=300)
    # Beat touches this file at each tick, so a container healthcheck can judge it by the file's age.
    celery_beat_heartbeat_file: Path | None = None
    worker_metrics_host: str = "127.0.0.1"
    # 0 turns the worker's /metrics off.
    worker_metrics_port: int = Field(default=9808, ge=0, le=65535)
    # Requests to both HTTP services: the body of a route without a limit of its own (all but an
    # upload and a prediction batch), the longest wait for the headers and for each part of a body,
    # and the slowest pace of a body on average (each byte buys 1/rate s after the body timeout; 0: none).
    http_max_json_body_kb: int = Field(default=1024, ge=1)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    http_body_min_bytes_per_second: int = Field(default=1024, ge=0)
    import_max_upload_mb: int = Field(default=2048, ge=1)
    # What an upload may expand to: a .gz as it is decompressed, a Parquet file as its pages are
    # decompressed and its values decoded; refused at this size (API, worker, CLI).
    import_max_uncompressed_mb: int = Field(default=8192, ge=1)
    import_max_field_bytes: int = Field(default=256 * 1024, ge=1024)
    reporting_timezone: str = "UTC"

    # OpenTelemetry: exporting is off unless an endpoint is set.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str | None = None
    otel_traces_sampler_arg: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator(
        "database_url",
        "db_host",
        "redis_url",
        "redis_host",
        "redis_password",
        "db_password",
        "minio_endpoint",
        "minio_root_user",
        "minio_root_password",
        "jwt_secret",
        "bi_agent_admin_password",
        "otel_exporter_otlp_endpoint",
        "otel_service_name",
        "celery_beat_heartbeat_file",
        "log_dir",
        "web_dir",
        "grafana_url",
        "jaeger_url",
        "prometheus_url",
        "minio_console_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env` files often carry `DB_HOST=`; an empty value means "not configured".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _forwarded_allow_ips_are_addresses(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry[:60]!r} is not an IP address or network; list the proxies' addresses, "
                    "such as 10.0.0.5,172.28.0.0/24"
                ) from None
        return ",".join(entries)

    @field_validator("database_url")
    @classmethod
    def _database_url_is_postgres(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("is not a URL of the form postgresql://user:password@host:5432/dbname") from None
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"must use the postgresql scheme, not {url.get_backend_name()!r}")
        if not url.database:
            raise ValueError("names no database (postgresql://user:password@host:5432/dbname)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("minio_endpoint")
    @classmethod
    def _minio_endpoint_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "://" not in value:
            # Compose files usually say `minio:9000`.
            value = f"http://{value}"
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be host:port or an http(s):// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials_of_the_home(self) -> Settings:
        # What the environment leaves unset comes from the home's generated secrets.
        secrets = HomeSecrets.read(self.home)
        if secrets is not None:
            self.fill_from_home(secrets)
        return self

    def fill_from_home(self, secrets: HomeSecrets) -> None:
        """Take the home's credentials for every one the environment left unset."""
        if self.jwt_secret is None:
            self.jwt_secret = SecretStr(secrets.jwt_secret)
        if self.minio_root_user is None and self.minio_root_password is None:
            self.minio_root_user = secrets.s3_access_key
            self.minio_root_password = SecretStr(secrets.s3_secret_key)
        self._home_redis_password = secrets.redis_password

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret_is_own(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if value.get_secret_value().strip() in PUBLISHED_JWT_SECRETS:
            raise ValueError("is a published example; set a secret of your own (openssl rand -hex 32)")
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters (openssl rand -hex 32)")
        return value

    @field_validator("minio_root_user", "minio_root_password")
    @classmethod
    def _minio_credentials_are_own(cls, value: str | SecretStr | None) -> str | SecretStr | None:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if plain is not None and plain.strip().lower() == PUBLISHED_MINIO_CREDENTIAL:
            raise ValueError("is MinIO's published default; set keys of your own (scripts/setup-local-env.sh)")
        if isinstance(value, SecretStr) and len(value.get_secret_value()) < MIN_S3_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_S3_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.app_env != "production":
            return self
        if self.jwt_secret is None:
            raise ValueError("JWT_SECRET is not set; production needs a secret of your own")
        if self.minio_endpoint and self.minio_root_password is None:
            raise ValueError("MINIO_ROOT_PASSWORD is unset; set keys of your own in production")
        if self.database_url is not None:
            if make_url(self.database_url).password in (None, "", PUBLISHED_DB_PASSWORD):
                raise ValueError("DATABASE_URL carries no password or the development default one")
        elif self.db_host is not None and (
            self.db_password is None or self.db_password.get_secret_value() == PUBLISHED_DB_PASSWORD
        ):
            raise ValueError("DB_PASSWORD is unset or the published `postgres`; set your own in production")
        if self.bi_agent_admin_password is not None and len(self.bi_agent_admin_password) < 12:
            raise ValueError("BI_AGENT_ADMIN_PASSWORD must be at least 12 characters in production")
        return self

    # Credentials, configured or generated in the home.

    def signing_secret(self) -> str:
        """The JWT signing secret; ConfigurationError when there is none."""
        if self.jwt_secret is None:
            raise ConfigurationError(
                "JWT_SECRET is not set: set it in the environment or .env (scripts/setup-local-env.sh "
                "writes one), or start with `bi-agent up`, which keeps a generated one in "
                f"BI_AGENT_HOME={self.home}"
            )
        return self.jwt_secret.get_secret_value()

    def cache_signing_key(self) -> bytes:
        """The key that seals cached replies in Redis: derived from the JWT secret, so only
        the platform's processes have it."""
        return hmac.new(self.signing_secret().encode(), b"bi-agent query cache", hashlib.sha256).digest()

    def s3_credentials(self) -> tuple[str, str]:
        """(access key, secret key) of S3; ConfigurationError when there are none."""
        if self.minio_root_user is None or self.minio_root_password is None:
            raise ConfigurationError(
                "MINIO_ROOT_USER and MINIO_ROOT_PASSWORD are not set: set both for MINIO_ENDPOINT, or start "
                f"with `bi-agent up`, which keeps generated keys in BI_AGENT_HOME={self.home}"
            )
        return self.minio_root_user, self.minio_root_password.get_secret_value()

    # Which parts come from the embedded servers.

    @property
    def embeds_postgres(self) -> bool:
        return self.database_url is None and self.db_host is None

    @property
    def embeds_redis(self) -> bool:
        return self.redis_url is None and self.redis_host is None

    @property
    def embeds_s3(self) -> bool:
        return self.minio_endpoint is None

    @property
    def home(self) -> Path:
        return self.bi_agent_home.expanduser().resolve()

    # Where each server is, configured or embedded.

    def postgres_url(self) -> URL:
        """The SQLAlchemy URL (psycopg 3 driver) of the platform database."""
        if self.database_url is not None:
            return make_url(self.database_url).set(drivername="postgresql+psycopg")
        if self.db_host is not None:
            return URL.create(
                "postgresql+psycopg",
                username=self.db_user,
                password=self.db_password.get_secret_value() if self.db_password is not None else None,
                host=self.db_host,
                port=self.db_port,
                database=self.db_name,
            )
        return make_url(self._embedded_address("postgres", "DATABASE_URL or DB_HOST"))

    def redis_address(self) -> str:
        if self.redis_url is not None:
            return self.redis_url
        if self.redis_host is not None:
            auth = ""
            if self.redis_password is not None:
                auth = f":{quote(self.redis_password.get_secret_value(), safe='')}@"
            return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"
        address = self._embedded_address("redis", "REDIS_URL or REDIS_HOST")
        if self._home_redis_password is None:
            raise ConfigurationError(f"the embedded Valkey's password is missing from BI_AGENT_HOME={self.home}")
        return with_password(address, self._home_redis_password)

    def s3_endpoint(self) -> str:
        if self.minio_endpoint is not None:
            return self.minio_endpoint
        return self._embedded_address("s3", "MINIO_ENDPOINT")

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.minio_bucket_models, self.minio_bucket_datasets, self.minio_bucket_logs)

    def _embedded_address(self, server: str, variable: str) -> str:
        address = ServerRegistry(self.home).address(server)
        if address is None:
            raise ConfigurationError(
                f"{server} is not configured ({variable} unset) and no embedded {server} is running "
                f"under BI_AGENT_HOME={self.home}; start one with `bi-agent up` or set {variable}"
            )
        return address


def with_password(url: str, password: str) -> str:
    """`url` (redis://host:port/db) with `password` as its credentials."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://:{quote(password, safe='')}@{rest.rpartition('@')[2]}"


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad setting, naming the environment variable, never its value."""
    lines = []
    for problem in error.errors():
        variable = "_".join(str(part) for part in problem["loc"]).upper()
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{variable}: {message}" if variable else message)
    return "; ".join(lines)


def load_settings() -> Settings:
    """Read the settings, turning a validation failure into a one-line ConfigurationError."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigurationError(f"invalid settings: {describe_validation_error(error)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
