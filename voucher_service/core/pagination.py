"""Query parameters of every paginated list, bounded so that no offset overflows."""

from typing import Annotated

from fastapi import Query

PageNumber = Annotated[int, Query(ge=1, le=100_000, description="Page, from 1")]
PerPage = Annotated[int, Query(ge=1, le=200, description="Items per page")]
IdFilter = Annotated[int | None, Query(ge=1, le=2_147_483_647, description="A row id")]
