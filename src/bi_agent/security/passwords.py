"""Password hashing with argon2id (pwdlib); plain passwords are never stored or logged."""

from __future__ import annotations

import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher.verify(password, password_hash)


def generate_password() -> str:
    """A password for a person to type once and change: 20 URL-safe characters."""
    return secrets.token_urlsafe(15)
