"""A migrated database, the S3 bucket and a helper that puts a file where imports find it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from bi_agent.catalog.files import OnError
from bi_agent.catalog.imports import ImportOutcome, ImportRequest, Mode, run_import
from bi_agent.infra.objects import create_s3_client, ensure_buckets
from tests.conftest import EmbeddedStack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_FIELD_BYTES = 256 << 10
MAX_UNCOMPRESSED_BYTES = 64 << 20


@pytest.fixture(scope="session")
def s3(embedded: EmbeddedStack) -> S3Client:
    settings = embedded.settings()
    client = create_s3_client(settings)
    ensure_buckets(client, settings.buckets)
    return client


@dataclass
class Importer:
    engine: Engine
    s3: S3Client

    def __call__(
        self,
        dataset: str,
        filename: str,
        content: bytes,
        mode: Mode = "replace",
        on_error: OnError = OnError.FAIL,
        *,
        detect_phi: bool = False,
    ) -> ImportOutcome:
        sha256 = hashlib.sha256(content).hexdigest()
        self.s3.put_object(Bucket="datasets", Key=sha256, Body=content)
        request = ImportRequest(dataset, sha256, sha256, filename, len(content), mode, on_error)
        return run_import(
            self.engine,
            self.s3,
            "datasets",
            request,
            max_field_bytes=MAX_FIELD_BYTES,
            max_uncompressed_bytes=MAX_UNCOMPRESSED_BYTES,
            detect_phi=detect_phi,
        )


@pytest.fixture
def load(engine: Engine, s3: S3Client) -> Importer:
    return Importer(engine, s3)
