"""Training: fit a new version of a model on a dataset, in the request or as a job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from bi_agent.catalog import datasets
from bi_agent.errors import PermissionDeniedError
from bi_agent.http.auth import ConnectionsDep, read_scope
from bi_agent.infra import jobs
from bi_agent.ml import training
from bi_agent.ml.registry import ModelVersion
from bi_agent.security import audit
from bi_agent.security.permissions import Permission
from bi_agent.security.phi_access import PhiRead
from bi_agent.security.read_scope import ReadScope

router = APIRouter(prefix="/models", tags=["training"])

CanTrain = Annotated[ReadScope, read_scope(Permission.MODELS_TRAIN)]
# `?wait=true` trains in the request up to this many dataset rows (a few seconds of work at
# most); a larger dataset is queued as without `wait`, and the 202 reply says why.
WAIT_MAX_ROWS = 20_000


class TrainingJob(BaseModel):
    """A training queued as a job."""

    job_id: str
    model: str
    status_url: str = Field(description="The job's state, progress and result: GET on the Analytics API")
    queued_because: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="With ?wait=true: why the training was queued instead (the dataset's size)",
    )


@router.post(
    "/{name}/train",
    status_code=202,
    response_model=TrainingJob,
    summary="Train a new version of a model",
    responses={201: {"model": ModelVersion, "description": "Trained in the request (`?wait=true`)"}},
)
def train(
    scope: CanTrain,
    connections: ConnectionsDep,
    name: str,
    body: training.TrainingSpec,
    wait: Annotated[
        bool, Query(description=f"Train in the request (datasets up to {WAIT_MAX_ROWS:,} rows) and answer 201")
    ] = False,
) -> TrainingJob | Response:
    """The request is checked against the catalog at once (404 unknown dataset; 422 unknown
    column, unusable target or setting; 403 PHI without phi:read; 409 a model name of another
    task or target; in HIPAA mode, 403 without the header X-Purpose when the dataset holds PHI,
    and the read is audited; 403 when a row policy limits what the caller sees of the dataset, since
    a model is trained on every row). Then 202 `{"job_id"}` (task `train_model` on queue `ml`; its state at
    `GET /api/v1/jobs/{id}` of the Analytics API), or with `?wait=true` on a small dataset,
    201 with the new version and its metrics."""
    principal = scope.principal
    assert principal is not None  # a request's scope always has its caller
    with connections.engine.connect() as connection:
        if body.dataset in scope.restricted_datasets(connection):
            raise PermissionDeniedError(
                f"a row policy limits what your roles see of dataset {body.dataset}; a model is trained on every row"
            )
    request = body.request(name, may_read_phi=scope.phi_allowed, user_id=principal.user_id)
    plan = training.plan(connections.engine, request)
    with connections.engine.connect() as connection:
        phi_columns = [column.name for column in datasets.get_columns(connection, body.dataset) if column.phi]
    used = {plan.target.name, *(feature.name for feature in plan.features)}
    scope.check_reads(
        connections.engine,
        [PhiRead(body.dataset, phi_columns, [column for column in phi_columns if column in used])],
        action=audit.Action.MODEL_TRAIN,
        resource=f"/api/v1/models/{name}/train",
    )
    if wait and plan.row_count <= WAIT_MAX_ROWS:
        bucket = connections.settings.minio_bucket_models
        version = training.train(connections.engine, connections.s3, bucket, request)
        return Response(version.model_dump_json(), status_code=201, media_type="application/json")
    summary = {"model": name, "dataset": body.dataset, "target": body.target, "task": body.task}
    with connections.engine.begin() as connection:
        arguments = [request.model_dump(mode="json")]
        job_id = jobs.submit(connections.celery, connection, "train_model", arguments, summary, principal.user_id)
    reply = TrainingJob(job_id=job_id, model=name, status_url=f"/api/v1/jobs/{job_id}")
    if wait:
        reply.queued_because = (
            f"dataset {body.dataset} has {plan.row_count:,} rows; ?wait=true trains at most {WAIT_MAX_ROWS:,} "
            "in the request"
        )
    return reply
