"""Pages of a list: `?limit=&offset=` on every list route of both services, each bounded, so an
offset no list reaches is a 422 naming it, not a number PostgreSQL cannot take (a 500)."""

# No `from __future__ import annotations`: the bounds in the page's annotations are the
# arguments of paging(), which FastAPI could not look up from annotations kept as text.
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

# Far inside PostgreSQL's bigint, and far beyond any list of the platform: a page that deep
# would be a scan of every entry before it.
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def paging(default_limit: int = 50, max_limit: int = 500) -> Any:
    """The dependency of a list route that reads its page from the query."""

    def page(
        limit: Annotated[int, Query(ge=1, le=max_limit, description="Entries in the page")] = default_limit,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Entries skipped before the page")] = 0,
    ) -> Page:
        return Page(limit, offset)

    return Depends(page)


PageDep = Annotated[Page, paging()]

Item = TypeVar("Item")


class Listing(BaseModel, Generic[Item]):
    """A list route's reply: one page of `items`, and how many there are in all."""

    items: list[Item]
    total: int = Field(description="Entries in the whole list, not only this page")
