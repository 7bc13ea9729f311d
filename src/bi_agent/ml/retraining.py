"""Retraining: each model trained again on its dataset's current rows, and promoted only when no worse.

`update_ml_models` (daily) runs `retrain_all`. A model's reference version is the one its
`production` alias names, or its latest where it has no such alias. The model is skipped
when its dataset is unchanged since the reference was trained (the same data_version), or
since a later version was trained on it (a retraining that kept production, say). It is
skipped with the reason, and nothing trained, when the dataset is gone or a feature or
the target is gone or of another kind: callers send the features the model reads, and the
data no longer has them. Otherwise the reference's request (`TrainingRequest.replay`: its
dataset, target, task, features, algorithm, params, test_size and split seed) is trained
on the current rows, and the new version and the reference are scored on the new
version's held-out rows by the primary metric (`evaluation.primary_metric`).

`production` moves to the new version only when it is no worse (a tie moves it), in the
transaction that registers it, and only if nobody moved the alias meanwhile. A model
without the alias does not get one: predictions use its latest version, now the new one.
The decision, its reason and both scores are stored on the new version (`decision`).
The held-out rows come from the current data, so after an append they may include rows
the production version was trained on, which flatters it: a close call keeps production.

In HIPAA mode, retraining on a dataset that holds PHI is audited like a training by hand
(action `model.retrain`, with the PHI columns it reads), by the platform with purpose
OPERATIONS, before any row is read.

A model whose retraining fails with one of the platform's errors (a target left with one
class, a model file that fails its check) is recorded as failed and the next one goes on;
a lost connection fails the task, which is retried, and the models already retrained are
then skipped. Logs and reasons name models, datasets and columns, never values.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass
from sqlalchemy import Engine

from bi_agent.catalog import datasets
from bi_agent.catalog.columns import ColumnSpec
from bi_agent.errors import BIAgentError
from bi_agent.ml import artifacts, evaluation, registry, training
from bi_agent.ml.features import feature_kind
from bi_agent.ml.registry import DEFAULT_ALIAS, ModelVersion, NewVersion, Promotion
from bi_agent.progress import Progress, no_progress
from bi_agent.security import audit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The HIPAA purpose of use of a retraining: keeping the platform's models current.
PURPOSE = "OPERATIONS"

Action = Literal["promoted", "kept", "latest", "skipped", "failed"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What retraining did with one model; `version` is the new version, when there is one."""

    model: str
    action: Action
    reason: str
    version: int | None = Field(default=None, exclude_if=lambda value: value is None)


class RetrainingRun(BaseModel):
    """The result of `update_ml_models`: each model's outcome, in the order of their names."""

    models: list[Outcome]


def retrain_all(
    engine: Engine,
    s3: S3Client,
    bucket: str,
    job_id: str | None = None,
    progress: Progress = no_progress,
    *,
    hipaa_mode: bool = False,
) -> list[Outcome]:
    """Retrain every model whose data changed, one after the other, in the order of their names."""
    with engine.connect() as connection:
        names = registry.model_names(connection)
    outcomes = []
    for done, name in enumerate(names):
        progress("models", done, len(names))
        outcomes.append(retrain(engine, s3, bucket, name, job_id, hipaa_mode=hipaa_mode))
    progress("models", len(names), len(names))
    return outcomes


def retrain(
    engine: Engine, s3: S3Client, bucket: str, name: str, job_id: str | None = None, *, hipaa_mode: bool = False
) -> Outcome:
    """Retrain one model if its data changed, and decide whether the new version replaces production."""
    try:
        outcome = _retrain(engine, s3, bucket, name, job_id, hipaa_mode)
    except BIAgentError as error:
        # The platform's messages name columns and counts, never values (errors.py).
        outcome = Outcome(name, "failed", str(error))
        logger.warning("retraining model %s failed: %s", name, outcome.reason)
        return outcome
    logger.info("retraining model %s: %s (%s)", name, outcome.action, outcome.reason)
    return outcome


def _retrain(engine: Engine, s3: S3Client, bucket: str, name: str, job_id: str | None, hipaa_mode: bool) -> Outcome:
    with engine.connect() as connection:
        summary, versions = registry.get_model(connection, name)
        if not versions:
            return Outcome(name, "skipped", "the model has no version to retrain")
        production = summary.aliases.get(DEFAULT_ALIAS)
        reference = versions[0] if production is None else next(item for item in versions if item.version == production)
        columns = datasets.find_columns(connection, reference.dataset)
        data_version = None if columns is None else datasets.get_dataset(connection, reference.dataset).data_version
    which = f"version {reference.version}" + (" (the latest)" if production is None else f" ({DEFAULT_ALIAS})")
    if columns is None or data_version is None:
        return Outcome(name, "skipped", f"dataset {reference.dataset}, which {which} was trained on, no longer exists")
    if data_version == reference.data_version:
        return Outcome(
            name,
            "skipped",
            f"data unchanged: {which} was trained on data_version {data_version} of {reference.dataset}",
        )
    latest = versions[0]
    if latest.dataset == reference.dataset and latest.data_version == data_version:
        return Outcome(
            name,
            "skipped",
            f"data unchanged since version {latest.version}, trained on data_version {data_version} of "
            f"{reference.dataset}; {which} stays",
        )
    changed = _schema_change(reference, columns)
    if changed is not None:
        return Outcome(name, "skipped", f"{changed}; {which} stays: train the model again by hand")
    if hipaa_mode:
        _audit_phi_read(engine, reference, columns, job_id)
    request = training.TrainingRequest.replay(reference, job_id)
    registered = training.train(
        engine, s3, bucket, request, review=lambda fitted: _decide(s3, bucket, reference, production, fitted)
    )
    decision = registered.decision or {}
    return Outcome(name, cast(Action, decision.get("action")), str(decision.get("reason")), registered.version)


def _schema_change(reference: ModelVersion, columns: list[ColumnSpec]) -> str | None:
    """Why the dataset no longer fits the version's target and features, or None when it does."""
    by_name = {column.name: column for column in columns}
    if reference.target not in by_name:
        return f"dataset {reference.dataset} no longer has the target {reference.target}"
    problems = []
    gone = [feature.name for feature in reference.features if feature.name not in by_name]
    if gone:
        problems.append(f"no longer has the features {', '.join(gone)}")
    retyped = [
        f"{feature.name} ({feature.kind}, now {by_name[feature.name].data_type})"
        for feature in reference.features
        if feature.name in by_name and feature_kind(by_name[feature.name]) != feature.kind
    ]
    if retyped:
        problems.append(f"has features of another type: {', '.join(retyped)}")
    return f"dataset {reference.dataset} {' and '.join(problems)}" if problems else None


def _audit_phi_read(engine: Engine, reference: ModelVersion, columns: list[ColumnSpec], job_id: str | None) -> None:
    phi = {column.name for column in columns if column.phi}
    if not phi:
        return
    read = [reference.target, *(feature.name for feature in reference.features)]
    with engine.begin() as connection:
        audit.record(
            connection,
            audit.AuditEvent(
                action=audit.Action.MODEL_RETRAIN,
                resource=f"model {reference.model}",
                dataset=reference.dataset,
                columns=[name for name in read if name in phi],
                phi=True,
                purpose=PURPOSE,
                request_id=job_id,
                details={"model": reference.model, "from_version": reference.version},
            ),
        )


def _decide(
    s3: S3Client, bucket: str, reference: ModelVersion, production: int | None, fitted: training.FittedModel
) -> NewVersion:
    """The new version with its decision: both versions scored on the new version's held-out rows."""
    new = fitted.version
    current = artifacts.load(s3, bucket, reference.artifact_key, reference.artifact_sha256)
    current_scores = evaluation.score(new.task, current, fitted.x_test, fitted.y_test, classes=new.classes)
    metric = evaluation.primary_metric(new.task, len(new.classes or ()), new.metrics, current_scores)
    new_score, current_score = new.metrics[metric], current_scores[metric]
    rows = len(fitted.y_test)
    compared = (
        f"{metric} {new_score:g} against {current_score:g} for version {reference.version}, "
        f"on the same {rows:,} held-out rows of data_version {new.data_version}"
    )
    decision: dict[str, Any] = {"metric": metric, "new": new_score}
    if production is None:
        decision |= {
            "action": "latest",
            "reason": f"no {DEFAULT_ALIAS} alias, so predictions use the latest version, now this one ({compared})",
            "production": None,
            "production_version": None,
            "previous": current_score,
            "previous_version": reference.version,
        }
    else:
        promoted = evaluation.not_worse(metric, new_score, current_score)
        verdict = (
            f"promoted: no worse than {DEFAULT_ALIAS}"
            if promoted
            else f"kept {DEFAULT_ALIAS}: the new version is worse than it"
        )
        decision |= {
            "action": "promoted" if promoted else "kept",
            "reason": f"{verdict} ({compared})",
            "production": current_score,
            "production_version": production,
        }
    decision |= {"held_out_rows": rows, "decided_at": datetime.now(UTC).isoformat()}
    promotion = None if production is None or decision["action"] != "promoted" else Promotion(DEFAULT_ALIAS, production)
    return dataclasses.replace(new, decision=decision, promotion=promotion)
