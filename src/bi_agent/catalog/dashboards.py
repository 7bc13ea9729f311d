"""Dashboards in schema `bi`: tiles of charts over metric queries, who owns them and who sees them.

A caller sees a dashboard they own, one shared with one of their roles, or, holding
`users:manage`, every dashboard; only the owner or such an admin changes one. A
dashboard the caller may not see is reported as missing, so its existence stays hidden.

A tile's filter on a PHI column of its dataset (judged by the columns' flags now) shows a
PHI value: a caller without `phi:read` is shown it with a null value (as a metric's
definition is), may not save such a filter, and may not change a dashboard holding one
(the value they were shown is not the one stored); deleting it stays theirs to do.

Every function takes the caller's connection and leaves the transaction to it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer, model_validator
from sqlalchemy import Connection, text

from bi_agent.catalog.query_spec import QuerySpec
from bi_agent.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from bi_agent.security import phi_access
from bi_agent.security.permissions import Permission, Principal

GRID_COLUMNS = 12
MAX_TILES = 50
Chart = Literal["line", "bar", "area", "table", "kpi"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RoleName = Annotated[str, Field(max_length=63)]


class Layout(BaseModel):
    """A tile's place on a grid 12 columns wide, in grid cells."""

    model_config = ConfigDict(extra="forbid")

    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(ge=1)
    h: int = Field(ge=1)

    @model_validator(mode="after")
    def _fits_the_grid(self) -> Layout:
        if self.x + self.w > GRID_COLUMNS:
            raise ValueError(f"x + w is {self.x + self.w}; the grid is {GRID_COLUMNS} columns wide")
        return self


class Tile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=64)
    title: Title
    chart: Chart
    query: QuerySpec
    layout: Layout

    @field_serializer("query")
    def _query_as_sent(self, query: QuerySpec) -> dict[str, Any]:
        # Of `metric` and `metrics` only the one the client used is kept.
        return query.model_dump(mode="json", exclude_none=True)


class DashboardContent(BaseModel):
    """What a client writes: a new dashboard, or all of an existing one's content."""

    model_config = ConfigDict(extra="forbid")

    name: Title
    description: str = Field(default="", max_length=10_000)
    tiles: list[Tile] = Field(default_factory=list, max_length=MAX_TILES)
    shared_with_roles: list[RoleName] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _tile_ids_are_unique(self) -> DashboardContent:
        seen: set[str] = set()
        for index, tile in enumerate(self.tiles):
            if tile.id in seen:
                raise ValueError(f"tiles[{index}] repeats the tile id {tile.id!r}")
            seen.add(tile.id)
        return self


@dataclass(frozen=True)
class Owner:
    id: uuid.UUID
    username: str


@dataclass(frozen=True)
class Dashboard:
    id: uuid.UUID
    name: str
    description: str
    tiles: list[dict[str, Any]]
    owner: Owner | None
    shared_with_roles: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DashboardPage:
    items: list[Dashboard]
    total: int


_SELECT_DASHBOARDS = (
    "SELECT d.id, d.name, d.description, d.tiles, d.owner_id, u.username AS owner_username, "
    "d.created_at, d.updated_at, coalesce((SELECT array_agg(s.role ORDER BY s.role) FROM bi.dashboard_shares s "
    "WHERE s.dashboard_id = d.id), '{}') AS shared_with_roles "
    "FROM bi.dashboards d LEFT JOIN bi.users u ON u.id = d.owner_id"
)
_COUNT_DASHBOARDS = "SELECT count(*) FROM bi.dashboards d"
_VISIBLE = (
    "(:sees_all OR d.owner_id = :user_id OR EXISTS (SELECT 1 FROM bi.dashboard_shares s "
    "WHERE s.dashboard_id = d.id AND s.role = ANY(:roles)))"
)


def create_dashboard(connection: Connection, content: DashboardContent, owner: Principal) -> Dashboard:
    """A new dashboard owned by `owner`; InvalidInputError naming an unknown role or metric,
    PermissionDeniedError naming a tile's PHI filter column when `owner` lacks `phi:read`."""
    roles = _known_roles(connection, content.shared_with_roles)
    _check_metrics(connection, content.tiles)
    _check_new_phi_filters(connection, content.tiles, owner)
    dashboard_id: uuid.UUID = connection.execute(
        text(
            "INSERT INTO bi.dashboards (name, description, tiles, owner_id) "
            "VALUES (:name, :description, CAST(:tiles AS jsonb), :owner_id) RETURNING id"
        ),
        {**_columns(content), "owner_id": owner.user_id},
    ).scalar_one()
    _insert_shares(connection, dashboard_id, roles)
    return get_dashboard(connection, dashboard_id, owner)


def list_dashboards(connection: Connection, viewer: Principal, limit: int, offset: int) -> DashboardPage:
    """The dashboards `viewer` may see, by name."""
    visible = _visibility(viewer)
    rows = connection.execute(
        text(f"{_SELECT_DASHBOARDS} WHERE {_VISIBLE} ORDER BY d.name, d.id LIMIT :limit OFFSET :offset"),
        {**visible, "limit": limit, "offset": offset},
    ).all()
    total = connection.execute(text(f"{_COUNT_DASHBOARDS} WHERE {_VISIBLE}"), visible).scalar_one()
    return DashboardPage(items=_as_shown(connection, [_dashboard(row) for row in rows], viewer), total=total)


def get_dashboard(connection: Connection, dashboard_id: uuid.UUID, viewer: Principal) -> Dashboard:
    """The dashboard as `viewer` is shown it (PHI filter values null without `phi:read`)."""
    (dashboard,) = _as_shown(connection, [_visible_dashboard(connection, dashboard_id, viewer, lock=False)], viewer)
    return dashboard


def check_may_change(connection: Connection, dashboard_id: uuid.UUID, editor: Principal) -> None:
    """What `replace_dashboard` checks of the stored dashboard, for a route to ask before it reads
    the new content: a body sent back with the null PHI values it was shown is then refused
    for what it is (403 naming the column), not as a malformed filter."""
    stored = _visible_dashboard(connection, dashboard_id, editor, lock=False)
    _check_may_change(stored, editor)
    _check_stored_phi_filters(connection, stored, editor)


def replace_dashboard(
    connection: Connection, dashboard_id: uuid.UUID, content: DashboardContent, editor: Principal
) -> Dashboard:
    """Replace name, description, tiles and shares; the owner and created_at stay. Without
    `phi:read`, refused when the dashboard or the new content has a tile filtering on a PHI column."""
    stored = _visible_dashboard(connection, dashboard_id, editor, lock=True)
    _check_may_change(stored, editor)
    _check_stored_phi_filters(connection, stored, editor)
    roles = _known_roles(connection, content.shared_with_roles)
    _check_metrics(connection, content.tiles)
    _check_new_phi_filters(connection, content.tiles, editor)
    connection.execute(
        text(
            "UPDATE bi.dashboards SET name = :name, description = :description, tiles = CAST(:tiles AS jsonb), "
            "updated_at = now() WHERE id = :id"
        ),
        {**_columns(content), "id": dashboard_id},
    )
    connection.execute(text("DELETE FROM bi.dashboard_shares WHERE dashboard_id = :id"), {"id": dashboard_id})
    _insert_shares(connection, dashboard_id, roles)
    return get_dashboard(connection, dashboard_id, editor)


def delete_dashboard(connection: Connection, dashboard_id: uuid.UUID, editor: Principal) -> None:
    _check_may_change(_visible_dashboard(connection, dashboard_id, editor, lock=True), editor)
    connection.execute(text("DELETE FROM bi.dashboards WHERE id = :id"), {"id": dashboard_id})


def _sees_all(principal: Principal) -> bool:
    return principal.has(Permission.USERS_MANAGE)


def _visibility(principal: Principal) -> dict[str, Any]:
    return {"sees_all": _sees_all(principal), "user_id": principal.user_id, "roles": sorted(principal.roles)}


def _visible_dashboard(connection: Connection, dashboard_id: uuid.UUID, viewer: Principal, *, lock: bool) -> Dashboard:
    # The lock makes concurrent changes of one dashboard take turns instead of mixing their shares.
    row = connection.execute(
        text(f"{_SELECT_DASHBOARDS} WHERE d.id = :id AND {_VISIBLE}{' FOR UPDATE OF d' if lock else ''}"),
        {**_visibility(viewer), "id": dashboard_id},
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no dashboard with id {dashboard_id}")
    return _dashboard(row)


def _check_may_change(dashboard: Dashboard, principal: Principal) -> None:
    owns = dashboard.owner is not None and dashboard.owner.id == principal.user_id
    if not (owns or _sees_all(principal)):
        raise PermissionDeniedError("only the owner or an admin can change this dashboard")


def _phi_columns_of_metrics(connection: Connection, names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each named metric that exists, with its dataset's PHI columns as flagged now."""
    if not names:
        return {}
    rows = connection.execute(
        text(
            "SELECT m.name, ARRAY(SELECT c.name FROM bi.dataset_columns c WHERE c.dataset_id = m.dataset_id "
            "AND c.phi ORDER BY c.name) AS phi_columns FROM bi.metrics m WHERE m.name = ANY(:names)"
        ),
        {"names": sorted(set(names))},
    ).all()
    return {row.name: tuple(row.phi_columns) for row in rows}


def _tile_filters(tile: dict[str, Any]) -> list[dict[str, Any]]:
    return list(tile.get("query", {}).get("filters", []))


def _tile_metrics(tile: dict[str, Any]) -> list[str]:
    query = tile.get("query", {})
    return list(query.get("metrics") or ([query["metric"]] if query.get("metric") else []))


def _tile_phi_filters(tile: dict[str, Any], phi_by_metric: dict[str, tuple[str, ...]]) -> list[str]:
    """The PHI columns a stored tile filters on. A tile whose metrics are all gone has no dataset
    to judge by: every column it filters on counts (a metric deleted by migration 0016 was min or
    max of a text column, maybe a PHI one)."""
    filters = _tile_filters(tile)
    known = [phi_by_metric[name] for name in _tile_metrics(tile) if name in phi_by_metric]
    if not known:
        return phi_access.phi_filter_columns(filters, {item["dimension"] for item in filters})
    return phi_access.phi_filter_columns(filters, {column for columns in known for column in columns})


def _as_shown(connection: Connection, shown: list[Dashboard], viewer: Principal) -> list[Dashboard]:
    """The dashboards with their tiles' PHI filter values null, for a viewer without `phi:read`."""
    if viewer.has(Permission.PHI_READ):
        return shown
    phi_by_metric = _phi_columns_of_metrics(
        connection, [name for dashboard in shown for tile in dashboard.tiles for name in _tile_metrics(tile)]
    )

    def hidden(tile: dict[str, Any]) -> dict[str, Any]:
        phi = _tile_phi_filters(tile, phi_by_metric)
        if not phi:
            return tile
        filters = phi_access.hide_phi_filter_values(_tile_filters(tile), phi)
        return {**tile, "query": {**tile["query"], "filters": filters}}

    return [replace(dashboard, tiles=[hidden(tile) for tile in dashboard.tiles]) for dashboard in shown]


def _check_stored_phi_filters(connection: Connection, stored: Dashboard, editor: Principal) -> None:
    if editor.has(Permission.PHI_READ):
        return
    phi_by_metric = _phi_columns_of_metrics(connection, [name for tile in stored.tiles for name in _tile_metrics(tile)])
    columns = list(dict.fromkeys(column for tile in stored.tiles for column in _tile_phi_filters(tile, phi_by_metric)))
    if columns:
        raise PermissionDeniedError(
            f"a tile of this dashboard filters on the PHI column {', '.join(columns)}, whose value you are shown "
            "as null: changing the dashboard needs the permission phi:read, which your roles lack"
        )


def _check_new_phi_filters(connection: Connection, tiles: Sequence[Tile], editor: Principal) -> None:
    if editor.has(Permission.PHI_READ):
        return
    phi_by_metric = _phi_columns_of_metrics(connection, [name for tile in tiles for name in tile.query.metric_names])
    for index, tile in enumerate(tiles):
        phi = {column for name in tile.query.metric_names for column in phi_by_metric.get(name, ())}
        columns = phi_access.phi_filter_columns([item.model_dump() for item in tile.query.filters], phi)
        if columns:
            raise PermissionDeniedError(
                f"tiles[{index}] {tile.title[:80]!r} filters on the PHI column {', '.join(columns)}: "
                "a filter on PHI needs the permission phi:read, which your roles lack"
            )


def _known_roles(connection: Connection, roles: Sequence[str]) -> list[str]:
    wanted = sorted(set(roles))
    existing = set(connection.execute(text("SELECT name FROM bi.roles")).scalars())
    unknown = [role for role in wanted if role not in existing]
    if unknown:
        names = ", ".join(repr(name[:70]) for name in unknown)
        raise InvalidInputError(
            f"unknown role{'s' if len(unknown) > 1 else ''} {names} in shared_with_roles; "
            f"the roles are {', '.join(sorted(existing))}"
        )
    return wanted


def _check_metrics(connection: Connection, tiles: Sequence[Tile]) -> None:
    """Every metric a tile names exists, and one tile's metrics share a dataset.

    Dimensions and filters are left to the query compiler, which checks them when the query runs.
    """
    names = sorted({name for tile in tiles for name in tile.query.metric_names})
    if not names:
        return
    rows = connection.execute(
        text(
            "SELECT m.name, d.name AS dataset FROM bi.metrics m JOIN bi.datasets d ON d.id = m.dataset_id "
            "WHERE m.name = ANY(:names)"
        ),
        {"names": names},
    ).all()
    dataset_of = {row.name: row.dataset for row in rows}
    for index, tile in enumerate(tiles):
        where = f"tiles[{index}] {tile.title[:80]!r}"
        metrics = tile.query.metric_names
        unknown = [name for name in metrics if name not in dataset_of]
        if unknown:
            listed = ", ".join(repr(name[:70]) for name in unknown)
            raise InvalidInputError(f"{where}: unknown metric{'s' if len(unknown) > 1 else ''} {listed}")
        if len({dataset_of[name] for name in metrics}) > 1:
            listed = ", ".join(f"{name!r} of dataset {dataset_of[name]!r}" for name in metrics)
            raise InvalidInputError(f"{where}: the metrics of one query must share one dataset; got {listed}")


def _columns(content: DashboardContent) -> dict[str, Any]:
    return {
        "name": content.name,
        "description": content.description,
        "tiles": json.dumps([tile.model_dump(mode="json") for tile in content.tiles]),
    }


def _insert_shares(connection: Connection, dashboard_id: uuid.UUID, roles: list[str]) -> None:
    if roles:
        connection.execute(
            text("INSERT INTO bi.dashboard_shares (dashboard_id, role) VALUES (:dashboard_id, :role)"),
            [{"dashboard_id": dashboard_id, "role": role} for role in roles],
        )


def _dashboard(row: Any) -> Dashboard:
    return Dashboard(
        id=row.id,
        name=row.name,
        description=row.description,
        tiles=row.tiles,
        owner=None if row.owner_id is None else Owner(row.owner_id, row.owner_username),
        shared_with_roles=tuple(row.shared_with_roles),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
