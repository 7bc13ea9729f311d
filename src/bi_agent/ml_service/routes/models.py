"""The model registry: list models, read one with its versions, move aliases, delete versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Listing, PageDep
from bi_agent.ml import registry
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/models", tags=["models"])

CanRead = Annotated[Principal, require(Permission.MODELS_READ)]
CanTrain = Annotated[Principal, require(Permission.MODELS_TRAIN)]
Version = Annotated[int, Path(ge=1, description="A version number")]


@router.get("", summary="List models")
def list_models(
    principal: CanRead,
    connections: ConnectionsDep,
    page: PageDep,
) -> Listing[registry.ModelSummary]:
    """Models by name: task, target, latest version, aliases, and the latest version's metrics."""
    with connections.engine.connect() as connection:
        items, total = registry.list_models(connection, page.limit, page.offset)
    return Listing(items=items, total=total)


@router.get("/{name}", summary="A model and its versions")
def get_model(principal: CanRead, connections: ConnectionsDep, name: str) -> registry.ModelDetail:
    """Each version, newest first: params (with the split seed and test_size), held-out metrics
    beside the baseline's, dataset and data_version, features with their types, classes,
    who trained it and when, and the file's key and SHA-256."""
    with connections.engine.connect() as connection:
        summary, versions = registry.get_model(connection, name)
    return registry.ModelDetail(**dict(summary), versions=versions)


@router.get("/{name}/versions/{version}", summary="One version of a model")
def get_version(principal: CanRead, connections: ConnectionsDep, name: str, version: Version) -> registry.ModelVersion:
    """As in the model's list of versions."""
    registry.check_model_name(name)
    with connections.engine.connect() as connection:
        return registry.get_version(connection, name, version)


class AliasBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, description="The version the alias is to name")


@router.post("/{name}/aliases/{alias}", summary="Point an alias at a version")
def set_alias(
    principal: CanTrain, connections: ConnectionsDep, name: str, alias: str, body: AliasBody
) -> registry.Alias:
    """Creates the alias or moves it; predictions that use it switch at their next request.
    `production` is the alias predictions use when they name none."""
    with connections.engine.begin() as connection:
        return registry.set_alias(connection, name, alias, body.version, principal.user_id)


# response_class: an empty 204 without a content type, as FastAPI's JSON default would give it.
@router.delete("/{name}/aliases/{alias}", status_code=204, response_class=Response, summary="Delete an alias")
def delete_alias(principal: CanTrain, connections: ConnectionsDep, name: str, alias: str) -> None:
    """The version stays; predictions without a version fall back to the latest when
    `production` goes."""
    with connections.engine.begin() as connection:
        registry.delete_alias(connection, name, alias)


@router.delete("/{name}/versions/{version}", status_code=204, response_class=Response, summary="Delete a version")
def delete_version(principal: CanTrain, connections: ConnectionsDep, name: str, version: Version) -> None:
    """Deletes the version and its file; 409 while an alias points at it. Its number is not
    given again."""
    settings = connections.settings
    registry.delete_version(connections.engine, connections.s3, settings.minio_bucket_models, name, version)
