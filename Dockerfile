# syntax=docker/dockerfile:1
# The BI-Agent Python image: one image for analytics-api, ml-service, celery-worker and
# celery-beat (docker-compose.yml gives each its command). Build: docker build -t bi-agent .
ARG PYTHON_IMAGE=python:3.11-slim

# Builder: the locked dependencies, without the dev group and without the `embedded` extra
# (compose brings PostgreSQL, Redis and MinIO), into a virtual environment the runtime copies.
FROM ${PYTHON_IMAGE} AS builder
# The uv the Makefile uses, so the lock file reads the same.
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
# Dependencies first: a change in src/ alone reuses this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
# Not editable: the runtime stage gets the package inside the environment, not a link to src/.
RUN uv sync --frozen --no-dev --no-editable

# Runtime: the slim Python and the environment, nothing of the build tools.
FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --user-group app \
    && mkdir -p /var/log/bi-agent \
    && chown app:app /var/log/bi-agent
WORKDIR /app
COPY --from=builder --chown=app:app /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER app
EXPOSE 3000 8000 9808
# The default command is the Analytics API; compose overrides command and healthcheck per
# service. Slim images have no curl, so Python asks /health. On its own it believes nobody's
# X-Forwarded-For, as `bi-agent up` with an empty FORWARDED_ALLOW_IPS.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/health', timeout=4)"]
CMD ["python", "-m", "uvicorn", "--factory", "--no-server-header", "--http", "bi_agent.http.protocol:BoundedHttpToolsProtocol", "--timeout-keep-alive", "5", "--no-proxy-headers", "bi_agent.analytics_api.app:create_app", "--host", "0.0.0.0", "--port", "3000"]
