"""The model registry in PostgreSQL: models, their versions and the aliases that point at them.

A model is a name with a task and a target. Each training adds a version: its params,
held-out metrics beside a baseline, dataset and data_version, features with their types,
and its file's key and SHA-256. Aliases (`production`, `staging`, ...) name a version and
move between versions; a version an alias points at cannot be deleted. A version made by
retraining also records its decision: whether `production` moved to it, and why.

Registering is all or nothing: the version number is taken and the file written inside
the transaction that inserts the version, and a failure anywhere deletes the file again,
so there is never a version row without its file, nor (bar a failed cleanup) the reverse.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter, WithJsonSchema, computed_field
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog.names import check_identifier
from bi_agent.errors import ConflictError, InvalidInputError, NotFoundError
from bi_agent.ml import artifacts
from bi_agent.ml.artifacts import StoredArtifact
from bi_agent.ml.features import Feature
from bi_agent.ml.pipelines import Task

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_ALIAS = "production"
_FEATURES = TypeAdapter(list[Feature])


# As `datetime.isoformat` writes it (`+00:00`), which the replies carried before they were models
# (pydantic would write `Z`).
Timestamp = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class ModelVersion(BaseModel):
    """One version of a model: what trained it, on what, how well, and where its file is."""

    model_config = ConfigDict(frozen=True)

    model: str
    version: int
    task: Task
    algorithm: str
    params: dict[str, Any] = Field(description="Effective hyperparameters, with random_state, test_size and split_seed")
    metrics: dict[str, Any] = Field(description="Held-out metrics, with the baseline's under `baseline`")
    dataset: str
    data_version: int
    target: str
    features: tuple[Feature, ...]
    classes: list[Any] | None
    training: dict[str, Any] = Field(description="Rows read, split and left out; seconds; library versions")
    aliases: tuple[str, ...]
    # Retraining's (see retraining.py); None for a version trained by hand.
    decision: dict[str, Any] | None = None
    artifact_key: str = Field(exclude=True)
    artifact_sha256: str = Field(exclude=True)
    artifact_bytes: int = Field(exclude=True)
    job_id: str | None
    created_by: str | None
    created_at: Timestamp

    @computed_field  # type: ignore[prop-decorator]
    @property
    def artifact(self) -> StoredArtifact:
        """The model file: its key in the models bucket, its SHA-256 and its size."""
        return StoredArtifact(self.artifact_key, self.artifact_sha256, self.artifact_bytes)


class ModelSummary(BaseModel):
    """A model as a list shows it: what it predicts, its aliases, and its latest version's metrics."""

    model_config = ConfigDict(frozen=True)

    name: str
    task: Task
    target: str
    latest_version: int | None
    aliases: dict[str, int]
    # The latest version's, so a list shows how good each model is now.
    dataset: str | None
    metrics: dict[str, Any] | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ModelDetail(ModelSummary):
    """A model and its versions, newest first."""

    versions: list[ModelVersion]


class Alias(BaseModel):
    """An alias and the version it names."""

    model: str
    alias: str
    version: int


@dataclass(frozen=True)
class Promotion:
    """Move `alias` from version `replaces` to the version being registered, in its transaction.

    The alias must still name `replaces`, the version the new one was compared against:
    otherwise someone moved it while the new one trained, and their choice stands.
    """

    alias: str
    replaces: int


@dataclass(frozen=True)
class NewVersion:
    """What a training hands over to be registered."""

    model: str
    task: Task
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    dataset: str
    data_version: int
    target: str
    features: Sequence[Feature]
    classes: list[Any] | None
    training: dict[str, Any]
    user_id: uuid.UUID | None
    job_id: str | None
    # Retraining's decision, and the alias move it decided on.
    decision: dict[str, Any] | None = None
    promotion: Promotion | None = None


_VERSION_COLUMNS = (
    "m.name AS model, v.version, m.task, v.algorithm, v.params, v.metrics, v.dataset, v.data_version, v.target, "
    "v.features, v.classes, v.training, v.artifact_key, v.artifact_sha256, v.artifact_bytes, v.job_id, v.decision, "
    "u.username AS created_by, v.created_at, "
    "ARRAY(SELECT a.alias FROM bi.model_aliases a WHERE a.model_id = v.model_id AND a.version = v.version "
    "ORDER BY a.alias) AS aliases "
    "FROM bi.model_versions v JOIN bi.models m ON m.id = v.model_id LEFT JOIN bi.users u ON u.id = v.created_by"
)


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        model=row.model,
        version=row.version,
        task=row.task,
        algorithm=row.algorithm,
        params=row.params,
        metrics=row.metrics,
        dataset=row.dataset,
        data_version=row.data_version,
        target=row.target,
        features=row.features,
        classes=row.classes,
        training=row.training,
        artifact_key=row.artifact_key,
        artifact_sha256=row.artifact_sha256,
        artifact_bytes=row.artifact_bytes,
        job_id=row.job_id,
        created_by=row.created_by,
        created_at=row.created_at,
        aliases=tuple(row.aliases),
        decision=row.decision,
    )


def check_model_name(name: str) -> str:
    return check_identifier(name, "model name")


def find_model(connection: Connection, name: str) -> tuple[Task, str] | None:
    """The task and target of a model, or None when the name is free."""
    row = connection.execute(text("SELECT task, target FROM bi.models WHERE name = :name"), {"name": name}).first()
    return None if row is None else (row.task, row.target)


def check_fits_model(connection: Connection, name: str, task: Task, target: str) -> None:
    """409 when `name` is a model of another task or target: a name's predictions mean one thing."""
    found = find_model(connection, name)
    if found is not None:
        _check_same(name, found, task, target)


def _check_same(name: str, found: tuple[Task, str], task: Task, target: str) -> None:
    existing_task, existing_target = found
    if existing_task != task or existing_target != target:
        raise ConflictError(
            f"model {name} is a {existing_task} of {existing_target}; a new version must be too "
            f"(asked: {task} of {target}); train under another name"
        )


def _lock_model(connection: Connection, name: str, task: Task, target: str, user_id: uuid.UUID | None) -> uuid.UUID:
    connection.execute(
        text(
            "INSERT INTO bi.models (name, task, target, created_by) VALUES (:name, :task, :target, :user) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        {"name": name, "task": task, "target": target, "user": user_id},
    )
    # The row lock orders concurrent registrations and alias moves of one model.
    row = connection.execute(
        text("SELECT id, task, target FROM bi.models WHERE name = :name FOR UPDATE"), {"name": name}
    ).one()
    _check_same(name, (row.task, row.target), task, target)
    model_id: uuid.UUID = row.id
    return model_id


def register(engine: Engine, s3: S3Client, bucket: str, new: NewVersion, data: bytes) -> ModelVersion:
    """Write the file and insert the version in one transaction; on any failure neither stays.

    A retried job (same job_id) gets the version it registered the first time. With a
    `promotion`, the alias moves in the same transaction, or (409) nothing is registered.
    """
    check_model_name(new.model)
    stored: StoredArtifact | None = None
    try:
        with engine.begin() as connection:
            model_id = _lock_model(connection, new.model, new.task, new.target, new.user_id)
            if new.job_id is not None:
                earlier = connection.execute(
                    text("SELECT version FROM bi.model_versions WHERE model_id = :id AND job_id = :job"),
                    {"id": model_id, "job": new.job_id},
                ).scalar()
                if earlier is not None:
                    return get_version(connection, new.model, earlier)
            version: int = connection.execute(
                text(
                    "UPDATE bi.models SET next_version = next_version + 1, updated_at = now() WHERE id = :id "
                    "RETURNING next_version - 1"
                ),
                {"id": model_id},
            ).scalar_one()
            stored = artifacts.save(s3, bucket, artifacts.artifact_key(new.model, version), data)
            connection.execute(
                text(
                    "INSERT INTO bi.model_versions (model_id, version, algorithm, params, metrics, dataset, "
                    "data_version, target, features, classes, training, artifact_key, artifact_sha256, "
                    "artifact_bytes, job_id, created_by, decision) VALUES (:model_id, :version, :algorithm, "
                    "CAST(:params AS jsonb), CAST(:metrics AS jsonb), :dataset, :data_version, :target, "
                    "CAST(:features AS jsonb), CAST(:classes AS jsonb), CAST(:training AS jsonb), :key, :sha256, "
                    ":bytes, :job_id, :user, CAST(:decision AS jsonb))"
                ),
                {
                    "model_id": model_id,
                    "version": version,
                    "algorithm": new.algorithm,
                    "params": json.dumps(new.params),
                    "metrics": json.dumps(new.metrics),
                    "dataset": new.dataset,
                    "data_version": new.data_version,
                    "target": new.target,
                    "features": _FEATURES.dump_json(list(new.features)).decode(),
                    "classes": None if new.classes is None else json.dumps(new.classes),
                    "training": json.dumps(new.training),
                    "key": stored.key,
                    "sha256": stored.sha256,
                    "bytes": stored.size_bytes,
                    "job_id": new.job_id,
                    "user": new.user_id,
                    "decision": None if new.decision is None else json.dumps(new.decision),
                },
            )
            if new.promotion is not None:
                _promote(connection, model_id, new.model, new.promotion, version)
            registered = get_version(connection, new.model, version)
    except BaseException:
        if stored is not None:
            artifacts.delete(s3, bucket, stored.key)
        raise
    return registered


def _promote(connection: Connection, model_id: uuid.UUID, name: str, promotion: Promotion, version: int) -> None:
    # The model row is locked (_lock_model), so the alias cannot move between this check and the update.
    moved = connection.execute(
        text(
            "UPDATE bi.model_aliases SET version = :version, updated_by = NULL, updated_at = now() "
            "WHERE model_id = :id AND alias = :alias AND version = :replaces"
        ),
        {"id": model_id, "alias": promotion.alias, "version": version, "replaces": promotion.replaces},
    ).rowcount
    if not moved:
        raise ConflictError(
            f"alias {promotion.alias} of model {name} no longer names version {promotion.replaces}, which version "
            f"{version} was compared against: it moved while version {version} trained; nothing was registered"
        )


def model_names(connection: Connection) -> list[str]:
    """Every model's name, in order."""
    return list(connection.execute(text("SELECT name FROM bi.models ORDER BY name")).scalars())


def list_models(connection: Connection, limit: int, offset: int) -> tuple[list[ModelSummary], int]:
    total: int = connection.execute(text("SELECT count(*) FROM bi.models")).scalar_one()
    rows = connection.execute(
        text(
            "SELECT m.name, m.task, m.target, latest.version AS latest_version, latest.dataset, latest.metrics, "
            "u.username AS created_by, m.created_at, m.updated_at, "
            "coalesce((SELECT jsonb_object_agg(a.alias, a.version) FROM bi.model_aliases a "
            "WHERE a.model_id = m.id), '{}'::jsonb) AS aliases "
            "FROM bi.models m LEFT JOIN bi.users u ON u.id = m.created_by "
            "LEFT JOIN LATERAL (SELECT v.version, v.dataset, v.metrics FROM bi.model_versions v "
            "WHERE v.model_id = m.id ORDER BY v.version DESC LIMIT 1) latest ON true "
            "ORDER BY m.name LIMIT :limit OFFSET :offset"
        ),
        {"limit": limit, "offset": offset},
    ).all()
    return [
        ModelSummary(
            name=row.name,
            task=row.task,
            target=row.target,
            latest_version=row.latest_version,
            aliases=dict(row.aliases),
            dataset=row.dataset,
            metrics=row.metrics,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ], total


def get_model(connection: Connection, name: str) -> tuple[ModelSummary, list[ModelVersion]]:
    """The model and its versions, newest first."""
    check_model_name(name)
    row = connection.execute(
        text(
            "SELECT m.id, m.name, m.task, m.target, u.username AS created_by, m.created_at, m.updated_at "
            "FROM bi.models m LEFT JOIN bi.users u ON u.id = m.created_by WHERE m.name = :name"
        ),
        {"name": name},
    ).first()
    if row is None:
        raise NotFoundError(f"no model named {name!r}")
    versions = [
        _version(item)
        for item in connection.execute(
            text(f"SELECT {_VERSION_COLUMNS} WHERE v.model_id = :id ORDER BY v.version DESC"),
            {"id": row.id},
        )
    ]
    aliases = {alias: item.version for item in versions for alias in item.aliases}
    summary = ModelSummary(
        name=row.name,
        task=row.task,
        target=row.target,
        latest_version=versions[0].version if versions else None,
        aliases=dict(sorted(aliases.items())),
        dataset=versions[0].dataset if versions else None,
        metrics=versions[0].metrics if versions else None,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    return summary, versions


def get_version(connection: Connection, name: str, version: int) -> ModelVersion:
    row = connection.execute(
        text(f"SELECT {_VERSION_COLUMNS} WHERE m.name = :name AND v.version = :version"),
        {"name": name, "version": version},
    ).first()
    if row is None:
        _model_exists(connection, name)
        raise NotFoundError(f"model {name} has no version {version}")
    return _version(row)


def _model_exists(connection: Connection, name: str) -> None:
    if find_model(connection, name) is None:
        raise NotFoundError(f"no model named {name!r}")


def resolve(connection: Connection, name: str, version: int | None = None, alias: str | None = None) -> ModelVersion:
    """The version a prediction uses: the one asked for, or the alias's, or else the
    `production` alias's, or else the latest. Read per request, in one statement: an alias
    moved by another process takes effect at the next request."""
    check_model_name(name)
    if version is not None and alias is not None:
        raise InvalidInputError("give a version or an alias, not both")
    if version is not None:
        return get_version(connection, name, version)
    if alias is not None:
        check_identifier(alias, "alias")
    row = connection.execute(
        text(
            f"SELECT {_VERSION_COLUMNS} WHERE m.name = :name AND v.version = coalesce("  # noqa: S608 (constant)
            "(SELECT a.version FROM bi.model_aliases a WHERE a.model_id = m.id AND a.alias = :alias), "
            "CASE WHEN :explicit THEN NULL ELSE "
            "(SELECT max(latest.version) FROM bi.model_versions latest WHERE latest.model_id = m.id) END)"
        ),
        {"name": name, "alias": alias or DEFAULT_ALIAS, "explicit": alias is not None},
    ).first()
    if row is not None:
        return _version(row)
    _model_exists(connection, name)
    if alias is not None:
        raise NotFoundError(f"model {name} has no alias {alias}")
    raise NotFoundError(f"model {name} has no versions; train it first")


def set_alias(connection: Connection, name: str, alias: str, version: int, user_id: uuid.UUID | None) -> Alias:
    """Point `alias` at `version`, creating the alias or moving it."""
    check_identifier(alias, "alias")
    model_id = _locked_id(connection, name)
    get_version(connection, name, version)
    connection.execute(
        text(
            "INSERT INTO bi.model_aliases (model_id, alias, version, updated_by) VALUES (:id, :alias, :version, :user) "
            "ON CONFLICT (model_id, alias) DO UPDATE SET version = :version, updated_by = :user, updated_at = now()"
        ),
        {"id": model_id, "alias": alias, "version": version, "user": user_id},
    )
    connection.execute(text("UPDATE bi.models SET updated_at = now() WHERE id = :id"), {"id": model_id})
    return Alias(model=name, alias=alias, version=version)


def delete_alias(connection: Connection, name: str, alias: str) -> None:
    check_identifier(alias, "alias")
    model_id = _locked_id(connection, name)
    deleted = connection.execute(
        text("DELETE FROM bi.model_aliases WHERE model_id = :id AND alias = :alias"), {"id": model_id, "alias": alias}
    ).rowcount
    if not deleted:
        raise NotFoundError(f"model {name} has no alias {alias}")


def _locked_id(connection: Connection, name: str) -> uuid.UUID:
    check_model_name(name)
    model_id: uuid.UUID | None = connection.execute(
        text("SELECT id FROM bi.models WHERE name = :name FOR UPDATE"), {"name": name}
    ).scalar()
    if model_id is None:
        raise NotFoundError(f"no model named {name!r}")
    return model_id


def delete_version(engine: Engine, s3: S3Client, bucket: str, name: str, version: int) -> None:
    """Delete a version and its file; 409 while an alias points at it."""
    with engine.begin() as connection:
        model_id = _locked_id(connection, name)
        doomed = get_version(connection, name, version)
        if doomed.aliases:
            raise ConflictError(
                f"version {version} of model {name} is what {', '.join(doomed.aliases)} point(s) at; "
                "move or delete the alias first"
            )
        connection.execute(
            text("DELETE FROM bi.model_versions WHERE model_id = :id AND version = :version"),
            {"id": model_id, "version": version},
        )
        connection.execute(text("UPDATE bi.models SET updated_at = now() WHERE id = :id"), {"id": model_id})
    # After the commit: a failed delete of the file leaves an unused object (logged), never a
    # version row without its file.
    artifacts.delete(s3, bucket, doomed.artifact_key)
