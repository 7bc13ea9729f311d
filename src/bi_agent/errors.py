"""The one exception hierarchy of the platform.

Domain code raises these; the HTTP doors map them to status codes in one place
(`bi_agent.http.problems`) and the CLI prints their message as one line.
Messages say what went wrong and where, and never carry a secret or a PHI value.
"""


class BIAgentError(Exception):
    """Base of every error the platform raises on purpose."""

    status_code = 500
    title = "Internal error"


class ConfigurationError(BIAgentError):
    """A setting is missing, malformed or unsafe for the environment."""

    title = "Configuration error"


class DependencyUnavailableError(BIAgentError):
    """PostgreSQL, Redis or S3 cannot be reached or refused us."""

    status_code = 503
    title = "Service unavailable"


class EmbeddedServerError(BIAgentError):
    """An embedded server failed to start or stop."""

    title = "Embedded server error"


class PortInUseError(BIAgentError):
    """A port the platform wants to listen on is taken."""

    title = "Port in use"


class ProcessFailedError(BIAgentError):
    """A platform process did not become healthy, or died while running."""

    title = "Process failed"
