"""Request dependencies shared by the applications' API and pages."""

from typing import Annotated

from fastapi import Depends, Request

from voucher_service.applications.registry import RegistryClient


def get_registry(request: Request) -> RegistryClient:
    """The process's registry client (its connections and cache are shared)."""
    registry: RegistryClient = request.app.state.registry
    return registry


Registry = Annotated[RegistryClient, Depends(get_registry)]
