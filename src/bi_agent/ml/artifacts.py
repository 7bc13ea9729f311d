"""Model files: written with skops (never pickle or joblib) to bucket `models`, checked on load.

A version's file lives at `models/{name}/{version}.skops`; the registry keeps its SHA-256.
Loading refuses, before anything is rebuilt from the file, a file whose hash differs from
the registry's (changed or replaced since training), a file that is not a skops archive
(a pickle put in its place, say), and a file naming any type outside TRUSTED_TYPES, the
few types beyond skops' own safe defaults that our pipelines hold. skops never runs code
from the file to rebuild these, unlike pickle.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import skops.io as sio
from botocore.exceptions import BotoCoreError, ClientError
from sklearn.pipeline import Pipeline

from bi_agent.errors import ArtifactIntegrityError, BIAgentError, DependencyUnavailableError
from bi_agent.infra.objects import ensure_buckets

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The types our pipelines hold that skops does not trust by default (it trusts scikit-learn's
# estimators and transformers, numpy arrays and Python's plain containers). Listed, never
# trusted=True: a file that names anything else is refused unread.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
)
SUFFIX = ".skops"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredArtifact:
    key: str
    sha256: str
    size_bytes: int


def artifact_key(model: str, version: int) -> str:
    return f"models/{model}/{version}{SUFFIX}"


def serialise(pipeline: Pipeline, model: str) -> bytes:
    """The pipeline as skops bytes; refused here if loading it later would be refused."""
    data: bytes = sio.dumps(pipeline)
    foreign = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if foreign:
        # Our own pipeline holding an unlisted type is a bug to fix here, not a caller's error.
        raise BIAgentError(f"model {model} holds types outside the trusted list, so it could not be loaded: {foreign}")
    return data


def save(s3: S3Client, bucket: str, key: str, data: bytes) -> StoredArtifact:
    """Write the file. S3 errors propagate as botocore's, which a task retries."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        _put(s3, bucket, key, data)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
        # A store set up without `bi-agent up` (which makes the buckets): make it and go on.
        ensure_buckets(s3, (bucket,))
        _put(s3, bucket, key, data)
    return StoredArtifact(key, sha256, len(data))


def _put(s3: S3Client, bucket: str, key: str, data: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/octet-stream")


def delete(s3: S3Client, bucket: str, key: str) -> bool:
    """Delete the file; False (and a warning in the log) when S3 refused or could not be reached.

    Callers delete a file no version refers to any more, so a failure leaves an unused
    object behind, never a version without its file.
    """
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as error:
        logger.warning("could not delete s3://%s/%s, which no version uses: %s", bucket, key, error)
        return False
    return True


def load(s3: S3Client, bucket: str, key: str, sha256: str) -> Pipeline:
    """The pipeline in the file, after its hash and its types were checked."""
    where = f"s3://{bucket}/{key}"
    data = _read(s3, bucket, key)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactIntegrityError(
            f"model file {where} changed since it was registered (SHA-256 {actual[:16]}..., "
            f"registered {sha256[:16]}...); it was not loaded: retrain the model or restore the file"
        )
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise ArtifactIntegrityError(
            f"model file {where} is not a skops file ({type(error).__name__}); it was not loaded"
        ) from None
    foreign = sorted(untrusted - set(TRUSTED_TYPES))
    if foreign:
        raise ArtifactIntegrityError(
            f"model file {where} names types outside the trusted list: {', '.join(foreign)}; it was not loaded"
        )
    loaded: Any = sio.loads(data, trusted=list(TRUSTED_TYPES))
    if not isinstance(loaded, Pipeline):
        raise ArtifactIntegrityError(f"model file {where} holds a {type(loaded).__name__}, not a pipeline")
    return loaded


def _read(s3: S3Client, bucket: str, key: str) -> bytes:
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            raise ArtifactIntegrityError(f"model file s3://{bucket}/{key} is missing; retrain the model") from None
        raise DependencyUnavailableError(f"cannot read s3://{bucket}/{key}: {error}") from None
    except BotoCoreError as error:
        raise DependencyUnavailableError(f"cannot read s3://{bucket}/{key}: {error}") from None
    return body
