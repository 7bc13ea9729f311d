"""The BI_AGENT_HOME folder: owner-only, holding the credentials the embedded mode invents.

No credential is written in the code or shared between installs. The first start of
`bi-agent up` (or of the embedded servers) in a home generates `secrets.json` there,
mode 0600: the JWT signing secret, the embedded Valkey's password and the embedded
S3's keys, each random; the first admin's generated password goes to
`initial-admin-password` beside it (0600). Later starts, the platform's processes and every `bi-agent`
command with the same BI_AGENT_HOME read them from there; a variable set in the
environment (JWT_SECRET, MINIO_ROOT_USER...) wins over the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from bi_agent.errors import ConfigurationError

SECRETS_FILE = "secrets.json"
ADMIN_PASSWORD_FILE = "initial-admin-password"  # noqa: S105 - a file name
OWNER_ONLY_FILE = 0o600
OWNER_ONLY_FOLDER = 0o700
# A folder that a server running as another user must pass through (the embedded
# PostgreSQL runs as `pgserver` when root starts it): others may enter, but list nothing.
PASS_THROUGH_FOLDER = 0o711
# What a process of ours creates (files 0600, folders 0700), inherited by its children.
OWNER_ONLY_UMASK = 0o077
# Shorter ones were not made here: generated secrets are 48 characters and more.
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class HomeSecrets:
    """The credentials of one home folder, generated once."""

    jwt_secret: str
    redis_password: str
    s3_access_key: str
    s3_secret_key: str

    @staticmethod
    def path(home: Path) -> Path:
        return home / SECRETS_FILE

    @classmethod
    def generate(cls) -> HomeSecrets:
        return cls(
            jwt_secret=secrets.token_urlsafe(48),
            # Hex: it goes into redis:// URLs and config files without quoting.
            redis_password=secrets.token_hex(24),
            s3_access_key=f"bi-agent-{secrets.token_hex(8)}",
            s3_secret_key=secrets.token_urlsafe(36),
        )

    @classmethod
    def read(cls, home: Path) -> HomeSecrets | None:
        """The home's credentials, or None when it has none yet. A file someone else owns or
        could have written, or with short secrets, is refused: its secret would be known."""
        path = cls.path(home)
        try:
            status = path.stat()
            content = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise ConfigurationError(f"{path} cannot be read as JSON; restore it or remove it") from None
        if status.st_uid != os.geteuid() or status.st_mode & 0o077:
            raise ConfigurationError(
                f"{path} is not owned by this user with mode 0600 (it is {stat.S_IMODE(status.st_mode):o}); "
                "credentials others could read or have written are not used: remove it to generate new ones"
            )
        names = [field.name for field in fields(cls)]
        if not isinstance(content, dict) or not all(isinstance(content.get(name), str) for name in names):
            raise ConfigurationError(f"{path} lacks some of {', '.join(names)}; restore it or remove it")
        short = [name for name in ("jwt_secret", "s3_secret_key") if len(content[name]) < MIN_SECRET_LENGTH]
        if short:
            raise ConfigurationError(f"{path}: {', '.join(short)} shorter than {MIN_SECRET_LENGTH}; remove the file")
        return cls(**{name: content[name] for name in names})

    @classmethod
    def ensure(cls, home: Path) -> HomeSecrets:
        """The home's credentials, generated and written (0600) on the first call."""
        existing = cls.read(home)
        if existing is not None:
            return existing
        home.mkdir(mode=OWNER_ONLY_FOLDER, parents=True, exist_ok=True)
        generated = cls.generate()
        path = cls.path(home)
        temporary = path.with_name(f".{SECRETS_FILE}.{secrets.token_hex(8)}.tmp")
        # A new file of ours, never one that is there already or a link placed in the way.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, OWNER_ONLY_FILE)
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(generated), file, indent=2)
        try:
            # A link fails when the file exists: of two first starts at once, one set wins.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
        found = cls.read(home)
        assert found is not None
        return found


def keep_admin_password(home: Path, password: str) -> Path:
    """Keep the first admin's generated password (0600) beside the other credentials, for the
    owner who did not see the banner (a start under nohup, a closed terminal)."""
    path = home / ADMIN_PASSWORD_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, OWNER_ONLY_FILE)
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    return path


def lock_down(home: Path) -> None:
    """Make the home owner-only: nothing in it readable or writable by group or others.

    Files keep their owner's bits only. The home folder is 0700, or 0711 when a folder
    in it belongs to another user (a server that runs as its own user must reach its data).
    """
    home.mkdir(parents=True, exist_ok=True)
    owner = home.stat().st_uid
    foreign_owner = False
    for folder, subfolders, files in os.walk(home):
        for name in [*subfolders, *files]:
            path = Path(folder) / name
            with contextlib.suppress(OSError):
                status = path.lstat()
                if stat.S_ISLNK(status.st_mode) or stat.S_ISSOCK(status.st_mode):
                    continue
                if Path(folder) == home and stat.S_ISDIR(status.st_mode) and status.st_uid != owner:
                    foreign_owner = True
                if status.st_mode & 0o077:
                    path.chmod(stat.S_IMODE(status.st_mode) & ~0o077)
    home.chmod(PASS_THROUGH_FOLDER if foreign_owner else OWNER_ONLY_FOLDER)
