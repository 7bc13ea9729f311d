"""BI-Agent: a self-hosted analytics and machine-learning platform."""

from importlib.metadata import version

__version__ = version("bi-agent")
