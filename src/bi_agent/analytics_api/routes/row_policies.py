"""Row policies: admins limit a role to some rows of a dataset (for example role
`north_analyst` to `region = north`); every query, preview and KPI list then keeps to them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.catalog import row_policies
from bi_agent.catalog.names import check_identifier
from bi_agent.catalog.query_spec import Filter
from bi_agent.catalog.row_policies import RowPolicy
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Listing
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/row-policies", tags=["row policies"])

CanManage = Annotated[Principal, require(Permission.USERS_MANAGE)]


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: list[Filter] = Field(
        min_length=1,
        max_length=row_policies.MAX_FILTERS,
        description="All must hold for a row to be seen; the same filters as a query's",
    )
    description: str = Field(default="", max_length=500)


@router.get("", summary="List row policies")
def list_policies(
    principal: CanManage, connections: ConnectionsDep, dataset: Annotated[str | None, Query()] = None
) -> Listing[RowPolicy]:
    """Every policy, or those of one dataset."""
    if dataset is not None:
        check_identifier(dataset, "dataset name")
    with connections.engine.connect() as connection:
        items = row_policies.list_policies(connection, dataset)
    return Listing(items=items, total=len(items))


@router.put("/{role}/{dataset}", summary="Set a role's row policy on a dataset")
def put_policy(
    principal: CanManage, connections: ConnectionsDep, role: str, dataset: str, body: PolicyBody
) -> RowPolicy:
    """Creates or replaces it; applies to the next request of everyone holding the role."""
    check_identifier(dataset, "dataset name")
    with connections.engine.begin() as connection:
        policy = row_policies.set_policy(connection, role, dataset, body.filters, body.description, principal.user_id)
    return policy


@router.delete("/{role}/{dataset}", status_code=204, summary="Lift a role's row policy on a dataset")
def delete_policy(principal: CanManage, connections: ConnectionsDep, role: str, dataset: str) -> Response:
    """The role's holders see the dataset's rows again from their next request, as far as their
    other roles' policies let them; 404 when the role has no policy on it."""
    check_identifier(dataset, "dataset name")
    with connections.engine.begin() as connection:
        row_policies.delete_policy(connection, role, dataset)
    return Response(status_code=204)
