"""Model files: a changed file, a pickle in its place, or a skops file naming an untrusted type
is refused before anything is rebuilt from it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sqlalchemy import Engine, text

from bi_agent.errors import ArtifactIntegrityError, BIAgentError
from bi_agent.ml import artifacts
from bi_agent.ml.registry import ModelVersion
from tests.ml.conftest import BUCKET, Trainer, unique_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# A protocol-0 pickle that would run `os.system` if unpickled: it must never be.
PICKLE_PAYLOAD = b"cos\nsystem\n(S'echo this must never run'\ntR."


@pytest.fixture
def version(trainer: Trainer, churn: str) -> ModelVersion:
    return trainer(unique_name("churn"), churn, "churned", "classification")


def replace_file(engine: Engine, s3: S3Client, version: ModelVersion, data: bytes, *, rehash: bool) -> str:
    """Put `data` at the version's key; with `rehash`, make the registry's SHA-256 match it too,
    as an attacker with database access would, so that only the format and type checks remain."""
    s3.put_object(Bucket=BUCKET, Key=version.artifact_key, Body=data)
    sha256 = version.artifact_sha256
    if rehash:
        sha256 = hashlib.sha256(data).hexdigest()
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE bi.model_versions SET artifact_sha256 = :sha WHERE artifact_key = :key"),
                {"sha": sha256, "key": version.artifact_key},
            )
    return sha256


def test_a_saved_model_loads_and_predicts_the_same(version: ModelVersion, s3: S3Client) -> None:
    loaded = artifacts.load(s3, BUCKET, version.artifact_key, version.artifact_sha256)
    assert isinstance(loaded, Pipeline)
    assert loaded.classes_.tolist() == ["no", "yes"]


def test_a_changed_file_is_refused(version: ModelVersion, s3: S3Client, engine: Engine) -> None:
    original = s3.get_object(Bucket=BUCKET, Key=version.artifact_key)["Body"].read()
    replace_file(engine, s3, version, original[:-1] + bytes([original[-1] ^ 1]), rehash=False)
    with pytest.raises(ArtifactIntegrityError, match=r"changed since it was registered .*it was not loaded") as caught:
        artifacts.load(s3, BUCKET, version.artifact_key, version.artifact_sha256)
    assert caught.value.status_code == 500


def test_a_pickle_in_its_place_is_refused_by_hash_and_by_format(
    version: ModelVersion, s3: S3Client, engine: Engine
) -> None:
    replace_file(engine, s3, version, PICKLE_PAYLOAD, rehash=False)
    with pytest.raises(ArtifactIntegrityError, match="changed since it was registered"):
        artifacts.load(s3, BUCKET, version.artifact_key, version.artifact_sha256)
    sha256 = replace_file(engine, s3, version, PICKLE_PAYLOAD, rehash=True)
    with pytest.raises(ArtifactIntegrityError, match=r"is not a skops file \(BadZipFile\); it was not loaded"):
        artifacts.load(s3, BUCKET, version.artifact_key, sha256)


def test_a_skops_file_naming_an_untrusted_type_is_refused(version: ModelVersion, s3: S3Client, engine: Engine) -> None:
    hostile = sio.dumps(Pipeline([("run", FunctionTransformer(func=eval))]))
    sha256 = replace_file(engine, s3, version, hostile, rehash=True)
    with pytest.raises(ArtifactIntegrityError, match=r"names types outside the trusted list: builtins\.eval"):
        artifacts.load(s3, BUCKET, version.artifact_key, sha256)


def test_a_missing_file_is_an_integrity_error(s3: S3Client) -> None:
    with pytest.raises(ArtifactIntegrityError, match="is missing; retrain the model"):
        artifacts.load(s3, BUCKET, f"models/{unique_name('gone')}/1.skops", "0" * 64)


def test_a_pipeline_we_could_not_load_is_never_saved() -> None:
    with pytest.raises(BIAgentError, match="holds types outside the trusted list"):
        artifacts.serialise(Pipeline([("run", FunctionTransformer(func=eval))]), "hostile")


def test_a_missing_bucket_is_made_on_the_first_save(version: ModelVersion, s3: S3Client) -> None:
    bucket = unique_name("models").replace("_", "-")
    data = s3.get_object(Bucket=BUCKET, Key=version.artifact_key)["Body"].read()
    stored = artifacts.save(s3, bucket, version.artifact_key, data)
    assert stored.sha256 == version.artifact_sha256 and stored.size_bytes == len(data)
    assert isinstance(artifacts.load(s3, bucket, stored.key, stored.sha256), Pipeline)
