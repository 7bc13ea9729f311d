"""The one exception hierarchy of the platform.

Domain code raises these; the HTTP doors map them to status codes in one place
(`bi_agent.http.problems`) and the CLI prints their message as one line.
Messages say what went wrong and where, and never carry a secret or a PHI value.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field


class ErrorItem(BaseModel):
    """One itemised cause of an error, for programs (a problem detail's `errors`): where
    (`loc`, never a value) and what. A refused file's item also names the file and, where
    known, its line and column; a refused prediction batch's, a sample of its rows."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(description='The place: ["body", "metric"], ["file"], ["features", "age"]')
    msg: str
    file: str | None = Field(default=None, description="The refused file's name")
    line: int | None = Field(default=None, description="The file's line, counted from 1 (a header is line 1)")
    column: str | None = Field(default=None, description="The column, by its name in the dataset")
    rows: list[int] | None = Field(default=None, description="A sample of the rows the cause was found in")


class BIAgentError(Exception):
    """Base of every error the platform raises on purpose. `errors` itemises the message for
    programs (a problem detail's `errors`)."""

    status_code = 500
    title = "Internal error"
    # When the same request may succeed again (a problem detail's Retry-After); None: not by waiting.
    retry_after_seconds: int | None = None

    def __init__(self, *args: object, errors: Sequence[ErrorItem] = ()) -> None:
        super().__init__(*args)
        self.errors = list(errors)


class ConfigurationError(BIAgentError):
    """A setting is missing, malformed or unsafe for the environment."""

    title = "Configuration error"


class DependencyUnavailableError(BIAgentError):
    """PostgreSQL, Redis or S3 cannot be reached or refused us."""

    status_code = 503
    title = "Service unavailable"
    # A restart of PostgreSQL or Redis takes a few seconds; a client that waits this long
    # mostly finds it back, and one that comes sooner only adds to the load.
    retry_after_seconds = 5


class EmbeddedServerError(BIAgentError):
    """An embedded server failed to start or stop."""

    title = "Embedded server error"


class PortInUseError(BIAgentError):
    """A port the platform wants to listen on is taken."""

    title = "Port in use"


class ProcessFailedError(BIAgentError):
    """A platform process did not become healthy, or kept dying soon after each start."""

    title = "Process failed"


class AuthenticationError(BIAgentError):
    """No credentials, bad credentials, or an expired or forged token."""

    status_code = 401
    title = "Not authenticated"


class PermissionDeniedError(BIAgentError):
    """The caller is known but lacks the permission the route needs."""

    status_code = 403
    title = "Permission denied"


class NotFoundError(BIAgentError):
    status_code = 404
    title = "Not found"


class ConflictError(BIAgentError):
    """The request contradicts what exists (a duplicate name, say)."""

    status_code = 409
    title = "Conflict"


class InvalidInputError(BIAgentError):
    """The request is well-formed but its content is wrong; the message says what and where."""

    status_code = 422
    title = "Invalid input"


class PayloadTooLargeError(BIAgentError):
    """The request carries more than a route takes at once; the message says the limit."""

    status_code = 413
    title = "Payload too large"


class ArtifactIntegrityError(BIAgentError):
    """A stored model file is not what the registry recorded (changed bytes, a foreign format,
    a type outside the trusted list). It is never loaded. A server fault, not the caller's:
    the caller cannot fix it by asking differently, and it must show among the 5xx errors
    that alerts watch; an operator retrains or restores the file."""

    title = "Model artifact integrity error"


class TooManyRequestsError(BIAgentError):
    status_code = 429
    title = "Too many requests"
    retry_after_seconds: int

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class UnexpectedError(BIAgentError):
    """An error the platform did not raise on purpose, retold for logs, task results and job
    replies: its message names the original class and says what failed without the value it
    failed on (`ValueError: could not convert string to float`; infra/error_text.py)."""
