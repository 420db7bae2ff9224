"""`voucher-service applications recheck` and `voucher-service purge`, as an operator runs them."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.applications import committed_application, committed_programme
from tests.fixtures.cli import run_cli
from tests.fixtures.registry import SIRETS, FakeRegistry
from voucher_service.applications.models import Application, ApplicationStatus
from voucher_service.core import audit
from voucher_service.core.clock import utcnow
from voucher_service.core.db import Database


def env_for(database: Database, **extra: str) -> dict[str, str]:
    return {"MCD_DATABASE_URL": database.engine.url.render_as_string(hide_password=False), **extra}


async def reloaded(database: Database, application_id: int | None) -> Application:
    async with database.sessionmaker() as session:
        application = await AsyncSession.get(session, Application, application_id)
        assert application is not None
        return application


class TestRecheck:
    async def test_all_pending_once_the_registry_answers(
        self, database: Database, fake_registry: FakeRegistry
    ) -> None:
        async with committed_programme(database) as programme:
            waiting = await committed_application(
                database, programme, ApplicationStatus.needs_review, siret=SIRETS.marseille
            )
            eligible = await committed_application(database, programme, ApplicationStatus.eligible)
            result = await run_cli(
                "applications",
                "recheck",
                "--all-pending",
                env=env_for(database, MCD_REGISTRY_URL=fake_registry.url),
            )
            assert result.code == 0, result.stderr
            assert f"#{waiting.id}: eligible" in result.stderr
            assert (await reloaded(database, waiting.id)).status is ApplicationStatus.eligible
            assert (await reloaded(database, eligible.id)).updated_at == eligible.updated_at

    async def test_a_decided_application_is_refused(self, database: Database) -> None:
        async with committed_programme(database) as programme:
            approved = await committed_application(database, programme, ApplicationStatus.approved)
            result = await run_cli(
                "applications", "recheck", str(approved.id), env=env_for(database)
            )
        assert result.code == 1 and "approuvée" in result.stderr


class TestPurge:
    async def test_anonymises_past_the_retention_period(self, database: Database) -> None:
        async with committed_programme(database) as programme:
            old = utcnow() - timedelta(days=400)
            rejected = await committed_application(
                database, programme, ApplicationStatus.rejected, updated_at=old
            )
            result = await run_cli("purge", env=env_for(database, MCD_RETENTION_MONTHS="12"))
        assert result.code == 0, result.stderr
        assert "retention: 12 months" in result.stderr
        purged = await reloaded(database, rejected.id)
        assert (purged.email, purged.phone, purged.contact_name) == (None, None, None)
        assert purged.purged_at is not None and purged.headcount == 6
        await audit.seal_committed(database)  # as a running service's sealer does
        verified = await run_cli("audit", "verify", env=env_for(database))
        assert verified.code == 0, verified.stderr
