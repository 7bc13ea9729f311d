"""Writes both services' OpenAPI documents, analytics.json and ml.json, into a folder.

Usage: .venv/bin/python scripts/openapi.py OUT_DIR  (`make api-types` turns them into web/lib/api/*.ts)

The apps are built, not started: no server, database or broker is opened. The documents
depend on the code alone: the environment, .env and BI_AGENT_HOME are not read, the signing
secret is a throwaway one (creating an app needs one) and keys are sorted, so a second run
writes the same bytes.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr

from bi_agent.analytics_api.app import create_app as create_analytics_app
from bi_agent.ml_service.app import create_app as create_ml_app
from bi_agent.settings import Settings

APPS = {"analytics": create_analytics_app, "ml": create_ml_app}


def default_settings(home: Path) -> Settings:
    """Settings from the defaults only, whatever this shell or .env says."""
    for name in Settings.model_fields:
        os.environ.pop(name.upper(), None)
    return Settings(_env_file=None, bi_agent_home=home, jwt_secret=SecretStr(secrets.token_urlsafe(48)))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        settings = default_settings(Path(home))
        for name, create_app in APPS.items():
            document = create_app(settings).openapi()
            text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            (out / f"{name}.json").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
