"""Who is acting and in which request: set by middleware and auth, read by the audit trail."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    role: str
    label: str


SYSTEM = Actor(user_id=None, role="system", label="system")
PUBLIC = Actor(user_id=None, role="public", label="public")

current_actor: ContextVar[Actor] = ContextVar("current_actor", default=SYSTEM)
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
