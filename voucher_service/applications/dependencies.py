"""Request dependencies shared by the applications' API and pages."""

from typing import Annotated

from fastapi import Depends, Request

from voucher_service.applications.registry import RegistryClient
from voucher_service.core.auth.dependencies import require_api_roles, require_page_roles
from voucher_service.core.auth.models import Role, User


def get_registry(request: Request) -> RegistryClient:
    """The process's registry client (its connections and cache are shared)."""
    registry: RegistryClient = request.app.state.registry
    return registry


Registry = Annotated[RegistryClient, Depends(get_registry)]


# Who reviews applications (notes, correction requests), on the API and the pages alike:
# the one place to widen when the reviewer role comes.
REVIEW_ROLES = (Role.admin,)
ReviewerUser = Annotated[User, Depends(require_api_roles(*REVIEW_ROLES))]
ReviewerPage = Annotated[User, Depends(require_page_roles(*REVIEW_ROLES))]
