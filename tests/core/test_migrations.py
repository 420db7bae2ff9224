"""Migrations go up from empty and down again on both engines; serve refuses an old schema."""

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

import voucher_service.models  # noqa: F401  (registers every table)
from tests.fixtures.cli import run_cli
from voucher_service.core import schema


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


class TestMigrations:
    async def test_up_from_empty_down_and_up_again(self, empty_database_url: str) -> None:
        engine = create_async_engine(empty_database_url)
        try:
            assert not await schema.is_at_head(engine)
            await schema.upgrade(engine)
            assert await schema.is_at_head(engine)
            assert set(SQLModel.metadata.tables) <= await table_names(engine)
            await schema.downgrade(engine, "base")
            assert await table_names(engine) <= {"alembic_version"}
            await schema.upgrade(engine)
            assert await schema.is_at_head(engine)
        finally:
            await engine.dispose()

    async def test_models_match_the_migrations(self, empty_database_url: str) -> None:
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        engine = create_async_engine(empty_database_url)
        try:
            await schema.upgrade(engine)
            async with engine.connect() as connection:
                diff = await connection.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c), SQLModel.metadata)
                )
        finally:
            await engine.dispose()
        assert diff == [], f"models and migrations differ: {diff}"


class TestCommandLine:
    async def test_serve_refuses_an_unmigrated_database(self, empty_database_url: str) -> None:
        result = await run_cli("serve", "--port", "0", env={"MCD_DATABASE_URL": empty_database_url})
        assert result.code == 1
        assert "voucher-service migrate" in result.stderr

    async def test_migrate_then_create_user_from_stdin(self, empty_database_url: str) -> None:
        env = {"MCD_DATABASE_URL": empty_database_url}
        assert (await run_cli("migrate", env=env)).code == 0
        created = await run_cli(
            "create-user",
            "--email",
            "Compta@Region.fr",
            "--role",
            "accountant",
            env=env,
            stdin="a very long password\n",
        )
        assert created.code == 0, created.stderr
        again = await run_cli(
            "create-user",
            "--email",
            "compta@region.fr",
            "--role",
            "admin",
            "--password",
            "another long password",
            env=env,
        )
        assert again.code == 1 and "existe déjà" in again.stderr

    async def test_serve_refuses_production_with_the_development_secret(self) -> None:
        result = await run_cli(
            "serve", env={"MCD_ENV": "production", "MCD_DATABASE_URL": "postgresql+asyncpg://x@y/z"}
        )
        assert result.code == 2
        assert "MCD_SECRET_KEY" in result.stderr
