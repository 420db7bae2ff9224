"""The core owns every transaction: a request's one transaction commits or rolls back in
`get_session`, an `atomic` use case undoes its own work on a refusal, rows `kept` outlive
it, and no other module commits or rolls back (ARCHITECTURE.md, "Transactions")."""

import ast
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

import experts
import notifications
import voucher_service
from voucher_service.core import db
from voucher_service.core.auth.models import LoginFailure
from voucher_service.core.db import Database, DbSession
from voucher_service.core.errors import Conflict
from voucher_service.core.problems import install_error_handlers

PACKAGES = [Path(p.__path__[0]) for p in (voucher_service, experts, notifications)]
TRANSACTION_OWNER = Path(db.__file__)
ENDINGS = {"commit", "rollback"}


def _endings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path.name}:{node.lineno} calls {node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ENDINGS
    ]


def test_no_module_but_the_core_ends_a_transaction() -> None:
    offenders = [
        ending
        for package in PACKAGES
        for path in package.rglob("*.py")
        if path != TRANSACTION_OWNER and "migrations" not in path.parts
        for ending in _endings(path)
    ]
    assert not offenders, offenders


def test_the_scan_sees_a_commit(tmp_path: Path) -> None:
    module = tmp_path / "service.py"
    module.write_text("async def f(session):\n    await session.commit()\n")
    assert _endings(module) == ["service.py:2 calls commit()"]


class Refused(Conflict):
    code = "refused_for_test"


@db.atomic
async def _refused_work(session: AsyncSession, email: str) -> None:
    session.add(LoginFailure(email=email, address="work"))
    await session.flush()
    raise Refused()


def _app(database: Database) -> FastAPI:
    app = FastAPI()
    app.state.database = database
    install_error_handlers(app)

    @app.post("/refuse/{email}")
    async def refuse(email: str, session: DbSession, keep: bool = False) -> None:
        try:
            await _refused_work(session, email)
        except Refused:
            if keep:
                db.keep(session, LoginFailure(email=email, address="kept"))
            raise

    @app.post("/render/{email}")
    async def render(email: str, session: DbSession) -> dict[str, int]:
        """A page that shows the refusal: the request goes on and ends well."""
        try:
            await _refused_work(session, email)
        except Refused:
            pass
        query = select(func.count()).where(col(LoginFailure.email) == email)
        return {"seen": int(await session.scalar(query) or 0)}

    return app


@pytest.fixture
async def committed(database: Database) -> AsyncIterator[tuple[AsyncClient, str]]:
    """A client of the real `get_session` (not the tests' savepoint), and an e-mail of its
    own whose rows it deletes afterwards."""
    email = f"{secrets.token_hex(6)}@transactions.test"
    transport = ASGITransport(app=_app(database), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, email
    async with database.sessionmaker() as session, session.begin():
        await session.execute(delete(LoginFailure).where(col(LoginFailure.email) == email))


async def _stored(database: Database, email: str) -> list[str]:
    async with database.sessionmaker() as session:
        query = select(col(LoginFailure.address)).where(col(LoginFailure.email) == email)
        return sorted((await session.scalars(query)).all())


async def test_a_refusal_rolls_the_request_back(
    committed: tuple[AsyncClient, str], database: Database
) -> None:
    client, email = committed
    assert (await client.post(f"/refuse/{email}")).status_code == 409
    assert await _stored(database, email) == []


async def test_kept_rows_outlive_the_refusal_and_its_work_does_not(
    committed: tuple[AsyncClient, str], database: Database
) -> None:
    client, email = committed
    response = await client.post(f"/refuse/{email}", params={"keep": "true"})
    assert (response.status_code, response.json()["code"]) == (409, "refused_for_test")
    assert await _stored(database, email) == ["kept"]


async def test_an_atomic_refusal_leaves_the_request_usable(
    committed: tuple[AsyncClient, str], database: Database
) -> None:
    client, email = committed
    response = await client.post(f"/render/{email}")
    assert (response.status_code, response.json()) == (200, {"seen": 0})
    assert await _stored(database, email) == []
