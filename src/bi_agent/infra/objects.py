"""The S3 client (MinIO in compose, SeaweedFS embedded) and the platform's buckets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bi_agent.errors import DependencyUnavailableError
from bi_agent.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def create_s3_client(settings: Settings, *, timeout_seconds: float | None = None) -> S3Client:
    """With `timeout_seconds` (a health probe), that connect and read timeout and a single attempt."""
    access_key, secret_key = settings.s3_credentials()
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint(),
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=settings.minio_region,
        config=Config(
            connect_timeout=2 if timeout_seconds is None else timeout_seconds,
            read_timeout=10 if timeout_seconds is None else timeout_seconds,
            retries={"total_max_attempts": 1}
            if timeout_seconds is not None
            else {"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        ),
    )


def ensure_buckets(client: S3Client, buckets: tuple[str, ...]) -> list[str]:
    """Create the buckets that are missing; return the names created."""
    try:
        existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", []) if "Name" in bucket}
        created = []
        for bucket in buckets:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
                created.append(bucket)
    except (BotoCoreError, ClientError) as error:
        raise DependencyUnavailableError(
            f"cannot prepare S3 buckets at {client.meta.endpoint_url} "
            f"(check MINIO_ENDPOINT, MINIO_ROOT_USER and MINIO_ROOT_PASSWORD): {error}"
        ) from None
    return created
