"""Training: fit a new version of a model on a dataset, in the request or as a job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.catalog import datasets
from bi_agent.http.audit_context import request_info
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.infra import jobs
from bi_agent.ml import training
from bi_agent.ml.pipelines import DEFAULT_ALGORITHM, Algorithm, ParamValue, Task
from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.phi_access import check_phi_read

router = APIRouter(prefix="/models", tags=["training"])

CanTrain = Annotated[Principal, require(Permission.MODELS_TRAIN)]
# `?wait=true` trains in the request up to this many dataset rows (a few seconds of work at
# most); a larger dataset is queued as without `wait`, and the 202 reply says why.
WAIT_MAX_ROWS = 20_000


class TrainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="The dataset to read")
    target: str = Field(description="The column to predict")
    task: Task
    features: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=training.MAX_FEATURES,
        description="Default: every column but the target that is a number, boolean or text and not PHI. "
        "PHI columns need phi:read and must be named.",
    )
    algorithm: Algorithm = Field(
        default=DEFAULT_ALGORITHM,
        description="hist_gradient_boosting (default), random_forest, linear (ridge regression or logistic "
        "regression) or logistic (classification)",
    )
    params: dict[str, ParamValue] = Field(
        default_factory=dict, max_length=20, description="Hyperparameters of the algorithm; 422 lists the settable"
    )
    test_size: float = Field(
        default=training.DEFAULT_TEST_SIZE,
        ge=training.MIN_TEST_SIZE,
        le=training.MAX_TEST_SIZE,
        description="Share of rows held out for the metrics",
    )


@router.post("/{name}/train", status_code=202, summary="Train a new version of a model")
def train(
    http_request: Request,
    principal: CanTrain,
    connections: ConnectionsDep,
    name: str,
    body: TrainBody,
    wait: Annotated[
        bool, Query(description=f"Train in the request (datasets up to {WAIT_MAX_ROWS:,} rows) and answer 201")
    ] = False,
) -> JSONResponse:
    """The request is checked against the catalog at once (404 unknown dataset; 422 unknown
    column, unusable target or setting; 403 PHI without phi:read; 409 a model name of another
    task or target; in HIPAA mode, 403 without the header X-Purpose when the dataset holds PHI,
    and the read is audited). Then 202 `{"job_id"}` (task `train_model` on queue `ml`; its state at
    `GET /api/v1/jobs/{id}` of the Analytics API), or with `?wait=true` on a small dataset,
    201 with the new version and its metrics."""
    request = training.TrainingRequest(
        model=name,
        dataset=body.dataset,
        target=body.target,
        task=body.task,
        features=None if body.features is None else tuple(body.features),
        algorithm=body.algorithm,
        params=body.params,
        test_size=body.test_size,
        may_read_phi=principal.has(Permission.PHI_READ),
        user_id=principal.user_id,
    )
    plan = training.plan(connections.engine, request)
    with connections.engine.connect() as connection:
        phi_columns = [column.name for column in datasets.get_columns(connection, body.dataset) if column.phi]
    used = {plan.target.name, *(feature.name for feature in plan.features)}
    check_phi_read(
        connections.engine,
        principal,
        request_info(http_request),
        hipaa_mode=connections.settings.hipaa_mode,
        action="model.train",
        resource=f"/api/v1/models/{name}/train",
        dataset=body.dataset,
        phi_columns=phi_columns,
        touched=[column for column in phi_columns if column in used],
    )
    if wait and plan.row_count <= WAIT_MAX_ROWS:
        bucket = connections.settings.minio_bucket_models
        version = training.train(connections.engine, connections.s3, bucket, request)
        return JSONResponse(version.model_dump(mode="json"), status_code=201)
    summary = {"model": name, "dataset": body.dataset, "target": body.target, "task": body.task}
    with connections.engine.begin() as connection:
        job_id = jobs.submit(
            connections.celery, connection, "train_model", [request.as_dict()], summary, principal.user_id
        )
    reply: dict[str, Any] = {"job_id": job_id, "model": name, "status_url": f"/api/v1/jobs/{job_id}"}
    if wait:
        reply["queued_because"] = (
            f"dataset {body.dataset} has {plan.row_count:,} rows; ?wait=true trains at most {WAIT_MAX_ROWS:,} "
            "in the request"
        )
    return JSONResponse(reply, status_code=202)
