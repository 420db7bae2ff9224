"""The applicant's way back: the unguessable status page link."""

from voucher_service.applications.models import Application
from voucher_service.core.config import Settings


def status_url(settings: Settings, application: Application) -> str:
    return f"{settings.public_url.rstrip('/')}/status/{application.status_token}"
