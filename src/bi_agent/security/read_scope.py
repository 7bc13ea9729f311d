"""What one caller may see: the one place the read rules are decided.

A `ReadScope` is built once per request from the principal, the settings and the
request's purpose of use (`ReadScope.of`), and every read of rows or of numbers made from
them takes it: queries, KPIs, previews, exports, profiles, forecasts and training reads.
It answers four questions and nothing else does:

- which rows of a dataset (`row_filters`: the row policies of the caller's roles);
- whether PHI values show (`phi_allowed`: the permission `phi:read`), so which columns a row
  read masks (`masked`) and whether a PHI metric may be read (`check_metric`);
- the smallest cell an aggregate may show (`min_cell_size`: HIPAA_MIN_CELL_SIZE in HIPAA mode
  for a caller without `phi:read`, else none);
- whether a read of a PHI-bearing dataset needs a purpose and an audit record (`check_reads`:
  HIPAA mode).

The cache key's scope (`cache_scope`) is derived from the same fields, so two callers who may
see different things never share a cached answer. The platform's own reads (the KPI task,
the CLI on the server) use `ReadScope.operator()`: every row, PHI included, no audit.
It is a pydantic model, so it crosses Celery as it is (`model_dump` / `model_validate`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from bi_agent.catalog import row_policies
from bi_agent.catalog.query_spec import Filter
from bi_agent.security import phi_access
from bi_agent.security.audit import Action, RequestInfo
from bi_agent.security.permissions import Permission, Principal
from bi_agent.settings import Settings


class ReadScope(BaseModel):
    model_config = ConfigDict(frozen=True)

    principal: Principal | None = Field(default=None, description="None: the platform's own read (operator)")
    phi_allowed: bool
    min_cell_size: int | None = Field(default=None, description="Aggregates of fewer records are suppressed")
    hipaa_mode: bool = False
    request: RequestInfo = RequestInfo()

    @classmethod
    def of(cls, principal: Principal, settings: Settings, request: RequestInfo | None = None) -> ReadScope:
        phi_allowed = principal.has(Permission.PHI_READ)
        # HIPAA mode hides small cells from whoever may not read the rows themselves.
        hide_small = settings.hipaa_mode and not phi_allowed
        return cls(
            principal=principal,
            phi_allowed=phi_allowed,
            min_cell_size=settings.hipaa_min_cell_size if hide_small else None,
            hipaa_mode=settings.hipaa_mode,
            request=request or RequestInfo(),
        )

    @classmethod
    def operator(cls) -> ReadScope:
        """The platform's own view (the KPI task, the CLI run on the server): every row and value."""
        return cls(phi_allowed=True)

    @property
    def user_id(self) -> uuid.UUID | None:
        return None if self.principal is None else self.principal.user_id

    @property
    def roles(self) -> frozenset[str] | None:
        """The roles whose row policies apply; None for the operator, whom none limits."""
        return None if self.principal is None else self.principal.roles

    @cached_property
    def cache_scope(self) -> str:
        """What decides what the caller sees, as a cache key's part."""
        if self.principal is None:
            return "operator"
        scope: dict[str, object] = {"roles": sorted(self.principal.roles), "phi": self.phi_allowed}
        if self.min_cell_size is not None:
            scope["min_cell_size"] = self.min_cell_size
        return json.dumps(scope, sort_keys=True)

    def row_filters(self, connection: Connection, dataset: str) -> list[Filter]:
        """The filters the caller's row policies put on the dataset's rows; empty when none does."""
        if self.principal is None:
            return []
        return row_policies.filters_for(connection, self.principal.roles, dataset)

    def restricted_datasets(self, connection: Connection) -> set[str]:
        """The datasets a row policy shows the caller only part of."""
        if self.principal is None:
            return set()
        return row_policies.restricted_datasets(connection, self.principal.roles)

    def masked(self, phi_columns: Iterable[str]) -> list[str]:
        """The columns a read of rows shows as null: the PHI ones, unless the caller reads PHI."""
        return [] if self.phi_allowed else list(phi_columns)

    def check_metric(self, metric: str, shown: dict[str, str]) -> None:
        """Refuse a PHI metric (one whose definition shows PHI values) without `phi:read`."""
        phi_access.check_metric_phi(metric, shown, phi_allowed=self.phi_allowed)

    def check_reads(
        self, engine: Engine, reads: Iterable[phi_access.PhiRead], *, action: Action, resource: str
    ) -> None:
        """In HIPAA mode, a read of a PHI-bearing dataset needs a purpose and is audited before
        anything is read (a record that cannot be written means nothing is served)."""
        if not self.hipaa_mode or self.principal is None:
            return
        phi_access.check_phi_reads(
            engine, self.principal, self.request, reads, hipaa_mode=True, action=action, resource=resource
        )

    def check_rows_read(
        self, engine: Engine, dataset: str, phi_columns: Sequence[str], *, action: Action, resource: str
    ) -> None:
        """`check_reads` of a read of a dataset's rows, which shows its PHI columns unless masked."""
        touched = [] if self.masked(phi_columns) else list(phi_columns)
        self.check_reads(
            engine, [phi_access.PhiRead(dataset, list(phi_columns), touched)], action=action, resource=resource
        )
