"""How core queues an e-mail without knowing the notifications domain: `app.py` hands
`notifications.service.enqueue` to the application's state, and core's use cases take it
as an argument (session, event, recipient, template data)."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

Notify = Callable[[AsyncSession, str, str, dict[str, Any]], Awaitable[object]]

# The footer of the service's own e-mails, which no programme signs.
SERVICE_FOOTER = {
    "programme_name": "Mon coach digital",
    "programme_contact": "moncoachdigital@maregionsud.fr",
}


def get_notify(request: Request) -> Notify:
    notify: Notify = request.app.state.notify
    return notify


AppNotify = Annotated[Notify, Depends(get_notify)]
