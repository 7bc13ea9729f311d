"""The ML service over HTTP: train (in the request and as a job), read the registry, move
aliases, predict, and refuse what is wrong with a clear problem, never a 500 for bad input."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from bi_agent.catalog import row_policies
from bi_agent.catalog.query_spec import Filter
from bi_agent.infra import jobs
from bi_agent.ml_service.routes import predictions as predictions_route
from bi_agent.ml_service.routes import training as training_route
from bi_agent.security import roles
from tests.analytics_api.conftest import Api, bearer
from tests.ml.conftest import BUCKET, unique_name
from tests.ml.test_artifacts import PICKLE_PAYLOAD
from tests.ml_service.conftest import wait_for_job

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHURN: dict[str, Any] = {"dataset": "churn", "target": "churned", "task": "classification"}
PRICES: dict[str, Any] = {"dataset": "prices", "target": "price", "task": "regression"}
RECORDS: list[dict[str, Any]] = [
    {"age": 30, "monthly_charges": 110.0, "plan": "basic", "autopay": False},
    {"age": 61, "monthly_charges": 15.5, "plan": "pro", "autopay": True},
    {"age": 45, "monthly_charges": None, "plan": None, "autopay": None},
]


def train(ml: Api, name: str, body: dict[str, Any], role: str = "analyst", wait: bool = True) -> Any:
    return ml.client.post(
        f"/api/v1/models/{name}/train", params={"wait": str(wait).lower()}, json=body, headers=ml.headers(role)
    )


def predict(ml: Api, name: str, body: Any, role: str = "analyst") -> Any:
    return ml.client.post(f"/api/v1/models/{name}/predict", json=body, headers=ml.headers(role))


def test_train_in_the_request_then_read_and_predict(ml: Api, churn: str) -> None:
    name = unique_name("churn")
    reply = train(ml, name, CHURN)
    assert reply.status_code == 201, reply.text
    trained = reply.json()
    assert trained["version"] == 1 and trained["model"] == name
    metrics = trained["metrics"]
    assert metrics["accuracy"] > metrics["baseline"]["accuracy"] and metrics["roc_auc"] > 0.7

    listed = ml.client.get("/api/v1/models", headers=ml.headers("viewer")).json()
    assert listed["total"] == 1
    assert listed["items"][0] | {"created_at": None, "updated_at": None} == {
        "name": name,
        "task": "classification",
        "target": "churned",
        "latest_version": 1,
        "aliases": {},
        "dataset": "churn",
        "metrics": metrics,
        "created_by": ml.accounts["analyst"].username,
        "created_at": None,
        "updated_at": None,
    }
    model = ml.client.get(f"/api/v1/models/{name}", headers=ml.headers("viewer")).json()
    (version,) = model["versions"]
    assert version == trained
    assert version["params"]["split_seed"] == 42 and version["params"]["test_size"] == 0.2
    assert version["features"][0] == {"name": "age", "type": "number"} and version["data_version"] == 1
    assert len(version["artifact"]["sha256"]) == 64 and version["created_by"] == ml.accounts["analyst"].username

    by_records = predict(ml, name, {"records": RECORDS})
    assert by_records.status_code == 200, by_records.text
    answer = by_records.json()
    assert answer["model"] == name and answer["version"] == 1 and answer["classes"] == ["no", "yes"]
    assert len(answer["predictions"]) == 3 and set(answer["predictions"]) <= {"no", "yes"}
    assert all(math.isclose(sum(row), 1, abs_tol=1e-5) for row in answer["probabilities"])
    columns = ["plan", "autopay", "age", "monthly_charges"]
    split = {"columns": columns, "data": [[record[column] for column in columns] for record in RECORDS]}
    assert predict(ml, name, {"dataframe_split": split, "version": 1}).json() == answer
    assert ml.client.get(f"/api/v1/models/{name}/versions/1", headers=ml.headers("viewer")).json() == trained


def test_train_as_a_job(ml: Api, prices: str, ml_worker: None) -> None:
    name = unique_name("price")
    reply = train(ml, name, {**PRICES, "algorithm": "random_forest", "params": {"n_estimators": 30}}, wait=False)
    assert reply.status_code == 202, reply.text
    job = wait_for_job(ml, reply.json()["job_id"])
    assert job["state"] == "SUCCESS", job
    assert job["task"] == "train_model" and job["summary"]["model"] == name
    result = job["result"]
    assert result["version"] == 1 and result["job_id"] == reply.json()["job_id"]
    assert result["metrics"]["r2"] > 0.8 > result["metrics"]["baseline"]["r2"]
    answer = predict(ml, name, {"records": [{"size": 100, "rooms": 3, "district": "centre", "garden": True}]}).json()
    assert 150_000 < answer["predictions"][0] < 250_000 and "probabilities" not in answer

    # Bad data found by the job fails it with the domain's message; nothing is registered.
    with ml.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE analytics.prices SET size = 'Infinity' WHERE rooms = 2")
    # Accepted (the request fits the catalog); the rows are read, and refused, by the job.
    bad = train(ml, unique_name("price"), {**PRICES, "features": ["size"], "test_size": 0.5}, wait=False)
    assert bad.status_code == 202
    failed = wait_for_job(ml, bad.json()["job_id"])
    assert failed["state"] == "FAILURE" and "feature size of dataset prices holds" in failed["error"]
    assert ml.client.get("/api/v1/models", headers=ml.headers("viewer")).json()["total"] == 1


def test_wait_on_a_large_dataset_queues_a_job(ml: Api, churn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training_route, "WAIT_MAX_ROWS", 100)
    queued: list[tuple[str, list[Any]]] = []

    def submit(celery: Any, connection: Any, task: str, args: list[Any], *rest: Any) -> str:
        # Not sent: no worker runs here, and the job must not linger in a shared Redis.
        queued.append((task, args))
        return "job-that-was-not-sent"

    monkeypatch.setattr(jobs, "submit", submit)
    reply = train(ml, unique_name("churn"), CHURN)
    assert reply.status_code == 202, reply.text
    assert reply.json()["job_id"] == "job-that-was-not-sent"
    assert "dataset churn has 300 rows; ?wait=true trains at most 100" in reply.json()["queued_because"]
    ((task, (request,)),) = queued
    assert task == "train_model" and request["dataset"] == "churn" and request["may_read_phi"] is False


def test_aliases_move_predictions_and_guard_deletes(ml: Api, prices: str) -> None:
    name = unique_name("price")
    assert train(ml, name, {**PRICES, "features": ["size"], "algorithm": "linear"}).status_code == 201
    assert train(ml, name, {**PRICES, "features": ["size", "district"], "algorithm": "linear"}).status_code == 201
    record = {"size": 120, "district": "centre"}

    def predicted_version(body: dict[str, Any]) -> int:
        reply = predict(ml, name, body)
        assert reply.status_code == 200, reply.text
        return int(reply.json()["version"])

    assert predicted_version({"records": [record]}) == 2  # no production alias: the latest
    promote = ml.client.post(
        f"/api/v1/models/{name}/aliases/production", json={"version": 1}, headers=ml.headers("analyst")
    )
    assert promote.status_code == 200 and promote.json() == {"model": name, "alias": "production", "version": 1}
    assert predicted_version({"records": [{"size": 120}]}) == 1
    ml.client.post(f"/api/v1/models/{name}/aliases/production", json={"version": 2}, headers=ml.headers("analyst"))
    assert predicted_version({"records": [record]}) == 2
    assert predicted_version({"records": [record], "alias": "production"}) == 2
    assert predicted_version({"records": [{"size": 120}], "version": 1}) == 1

    conflict = ml.client.delete(f"/api/v1/models/{name}/versions/2", headers=ml.headers("analyst"))
    assert conflict.status_code == 409 and "production" in conflict.json()["detail"]
    assert ml.client.delete(f"/api/v1/models/{name}/versions/1", headers=ml.headers("analyst")).status_code == 204
    gone = ml.client.delete(f"/api/v1/models/{name}/versions/1", headers=ml.headers("analyst"))
    assert gone.status_code == 404 and f"model {name} has no version 1" in gone.json()["detail"]
    assert (
        ml.client.post(
            f"/api/v1/models/{name}/aliases/staging", json={"version": 7}, headers=ml.headers("analyst")
        ).status_code
        == 404
    )
    assert (
        ml.client.delete(f"/api/v1/models/{name}/aliases/production", headers=ml.headers("analyst")).status_code == 204
    )
    viewer = ml.client.post(
        f"/api/v1/models/{name}/aliases/production", json={"version": 2}, headers=ml.headers("viewer")
    )
    assert viewer.status_code == 403 and "models:train" in viewer.json()["detail"]


def test_a_changed_model_file_is_refused_with_a_clear_500(ml: Api, churn: str, s3: S3Client) -> None:
    name = unique_name("churn")
    key = train(ml, name, CHURN).json()["artifact"]["key"]
    for replacement in (b"not the model", PICKLE_PAYLOAD):
        s3.put_object(Bucket=BUCKET, Key=key, Body=replacement)
        reply = predict(ml, name, {"records": RECORDS})
        assert reply.status_code == 500
        problem = reply.json()
        assert problem["title"] == "Model artifact integrity error"
        assert f"model file s3://models/{key} changed since it was registered" in problem["detail"]
        assert "it was not loaded" in problem["detail"]


def test_bad_predictions_are_clear_4xx(ml: Api, churn: str) -> None:
    name = unique_name("churn")
    train(ml, name, CHURN)

    def refused(body: Any, status: int, detail: str) -> None:
        reply = predict(ml, name, body)
        assert reply.status_code == status, reply.text
        assert detail in reply.json()["detail"], reply.json()["detail"]

    refused({"records": []}, 422, "records is empty")
    refused({"records": [{"age": 30}]}, 422, "missing features monthly_charges, plan, autopay")
    refused({"records": [{**RECORDS[0], "income": 3}]}, 422, "extra features income")
    refused(
        {"records": [RECORDS[0], {**RECORDS[0], "monthly_charges": "lots"}]},
        422,
        "feature monthly_charges expects a number (or null) but has another type in records[1]",
    )
    refused({"records": [RECORDS[0]] * 100_000}, 413, "100,000 records; one request takes at most 50,000")
    refused({"records": RECORDS, "version": 5}, 404, f"model {name} has no version 5")
    # The same problems itemised for programs: the feature, what is wrong, the records.
    several = predict(ml, name, {"records": [{**RECORDS[0], "age": "old", "income": 3}, {"plan": "pro"}]})
    assert several.status_code == 422
    assert several.json()["errors"] == [
        {"loc": ["features", "income"], "msg": "extra feature income (the model does not read it)"},
        {"loc": ["features", "age"], "msg": "feature age is missing from records[1]", "rows": [1]},
        {"loc": ["features", "autopay"], "msg": "feature autopay is missing from records[1]", "rows": [1]},
        {
            "loc": ["features", "monthly_charges"],
            "msg": "feature monthly_charges is missing from records[1]",
            "rows": [1],
        },
        {
            "loc": ["features", "age"],
            "msg": "feature age expects a number (or null) but has another type in records[0]",
            "rows": [0],
        },
    ]
    refused({"records": RECORDS, "alias": "staging"}, 404, f"model {name} has no alias staging")
    refused({"records": RECORDS, "version": 1, "alias": "production"}, 422, "a version or an alias, not both")
    nan = json.dumps({"records": [{**RECORDS[0], "age": math.nan}, {**RECORDS[0], "age": math.inf}]})
    reply = ml.client.post(
        f"/api/v1/models/{name}/predict",
        content=nan,
        headers={**ml.headers("analyst"), "content-type": "application/json"},
    )
    assert (
        reply.status_code == 422
        and "age has NaN or infinite values in records[0], records[1]" in reply.json()["detail"]
    )
    broken = ml.client.post(f"/api/v1/models/{name}/predict", content=b'{"records": [', headers=ml.headers("analyst"))
    assert broken.status_code == 422 and "not valid JSON at line 1 column 14" in broken.json()["detail"]
    assert predict(ml, "nothing_here", {"records": RECORDS}).status_code == 404
    assert predict(ml, name, {"records": RECORDS}, role="viewer").status_code == 403


def test_a_body_past_the_limit_is_413(ml: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(predictions_route, "MAX_BODY_BYTES", 1000)
    body = json.dumps({"records": RECORDS * 20}).encode()
    headers = {**ml.headers("analyst"), "content-type": "application/json"}
    declared = ml.client.post("/api/v1/models/any_model/predict", content=body, headers=headers)
    assert declared.status_code == 413 and "at most 1,000 are taken" in declared.json()["detail"]
    chunked = ml.client.post(
        "/api/v1/models/any_model/predict", content=iter([body[:600], body[600:]]), headers=headers
    )
    assert chunked.status_code == 413 and "larger than the 1,000 bytes" in chunked.json()["detail"]


def test_bad_training_requests_are_clear_4xx(ml: Api, churn: str) -> None:
    def refused(body: dict[str, Any], status: int, detail: str, role: str = "analyst") -> None:
        reply = train(ml, unique_name("bad"), body, role=role)
        assert reply.status_code == status, reply.text
        assert detail in reply.json()["detail"], reply.json()["detail"]

    refused({**CHURN, "dataset": "nowhere"}, 404, "no dataset named 'nowhere'")
    refused({**CHURN, "target": "nothing"}, 422, "dataset churn has no column nothing (the target)")
    refused({**CHURN, "features": ["plan", "height"]}, 422, "dataset churn has no column height (features)")
    refused({**CHURN, "task": "clustering"}, 422, "body.task")
    refused({**CHURN, "algorithm": "xgboost"}, 422, "body.algorithm")
    refused({**CHURN, "params": {"max_iter": 0}}, 422, "params.max_iter must be an integer from 1 to 2000, not 0")
    refused({**CHURN, "features": ["customer_name"]}, 403, "customer_name are PHI columns")
    refused(CHURN, 403, "this needs the permission models:train", role="viewer")
    with ml.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE analytics.churn SET churned = 'no'")
    refused(CHURN, 422, "target churned has one class in its 300 rows")
    assert ml.client.get("/api/v1/models", headers=ml.headers("viewer")).json()["total"] == 0
    # An admin holds phi:read and may name a PHI column.
    assert (
        train(
            ml, unique_name("churn"), {**CHURN, "target": "plan", "features": ["customer_name", "age"]}, role="admin"
        ).status_code
        == 201
    )


def test_metrics_count_predictions_and_trainings(ml: Api, churn: str) -> None:
    name = unique_name("churn")
    train(ml, name, CHURN)
    predict(ml, name, {"records": RECORDS})
    text = ml.client.get("/metrics").text
    assert f'bi_agent_predictions_total{{model="{name}"}} 3.0' in text
    assert f'bi_agent_prediction_duration_seconds_count{{model="{name}"}} 1.0' in text
    assert f'bi_agent_model_training_runs_total{{model="{name}",outcome="success"}} 1.0' in text
    assert 'bi_agent_model_cache_total{outcome="load"}' in text


def test_hipaa_mode_training_on_phi_needs_a_purpose_and_is_audited(
    ml: Api, churn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections = ml.app.state.connections
    monkeypatch.setattr(connections, "settings", connections.settings.model_copy(update={"hipaa_mode": True}))
    with ml.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE bi.dataset_columns SET phi = true WHERE name = 'plan' "
                "AND dataset_id = (SELECT id FROM bi.datasets WHERE name = 'churn')"
            )
        )
    name = unique_name("churn")
    refused = train(ml, name, CHURN, role="admin")
    assert refused.status_code == 403 and "X-Purpose" in refused.json()["detail"]
    body = {**CHURN, "features": ["age", "monthly_charges", "plan"]}
    allowed = ml.client.post(
        f"/api/v1/models/{name}/train",
        params={"wait": "true"},
        json=body,
        headers={**ml.headers("admin"), "X-Purpose": "OPERATIONS"},
    )
    assert allowed.status_code == 201, allowed.text
    with ml.engine.connect() as connection:
        record = connection.execute(
            text("SELECT action, dataset, columns, purpose FROM bi.audit_log WHERE action = 'model.train'")
        ).one()
    assert (record.dataset, list(record.columns), record.purpose) == ("churn", ["plan"], "OPERATIONS")


@pytest.mark.parametrize("redis_url", ["valkey"], indirect=True)
def test_a_caller_a_row_policy_limits_cannot_train_on_every_row(ml: Api, churn: str) -> None:
    with ml.engine.begin() as connection:
        roles.create_role(connection, "pro_only", "", ["models:train"])
        row_policies.set_policy(connection, "pro_only", "churn", [Filter(dimension="plan", op="eq", value="pro")])
    limited = ml.add_account("pro", ["pro_only"])
    reply = ml.client.post(
        f"/api/v1/models/{unique_name('churn')}/train",
        params={"wait": "true"},
        json=CHURN,
        headers=bearer(ml.token(limited)),
    )
    assert reply.status_code == 403, reply.text
    assert "row policy" in reply.json()["detail"] and "churn" in reply.json()["detail"]
