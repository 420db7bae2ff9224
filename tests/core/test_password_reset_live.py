"""Password reset against a real server: two uses of one link at the same time set the
password once, and the answer takes as long whether or not the account exists."""

import asyncio
import statistics
import time
import uuid

import httpx
from sqlalchemy import delete, func, select
from sqlmodel import col

from notifications.models import Notification
from tests.core.test_password_reset import ask_reset
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import create_user
from tests.fixtures.servers import LiveServer, serve
from voucher_service.core import audit
from voucher_service.core.auth import service as auth_service
from voucher_service.core.auth.models import Role, User
from voucher_service.core.db import Database
from voucher_service.core.errors import InvalidCredentials

ROUNDS = 5
PAIRS = 25
CONFIRM = "/api/v1/auth/password-reset/confirm"


async def committed_user(database: Database) -> User:
    async with database.sessionmaker() as session, session.begin():
        return await create_user(session, Role.accountant, f"{uuid.uuid4().hex}@example.fr")


async def committed_link(database: Database, user: User) -> str:
    """The token of a reset link mailed to the user, committed as a request would."""
    settings = make_settings(database.engine.url.render_as_string(hide_password=False))
    async with database.sessionmaker() as session, session.begin():
        await ask_reset(session, settings, user.email, uuid.uuid4().hex)
        query = select(Notification).where(col(Notification.recipient) == user.email)
        mail = (await session.execute(query)).scalar_one()
    return str(mail.data["reset_url"]).rsplit("/", 1)[1]


async def logs_in(database: Database, user: User, password: str) -> bool:
    settings = make_settings(database.engine.url.render_as_string(hide_password=False))
    async with database.sessionmaker() as session, session.begin():
        try:
            await auth_service.authenticate(session, settings, user.email, password, "test")
        except InvalidCredentials:
            return False
    return True


async def audited_resets(database: Database, user: User) -> int:
    query = select(func.count()).where(
        col(audit.AuditEvent.action) == "user.password_reset",
        col(audit.AuditEvent.entity_id) == str(user.id),
    )
    async with database.sessionmaker() as session:
        return int((await session.execute(query)).scalar_one())


class TestConcurrentUse:
    async def test_two_uses_of_one_link_at_once_set_the_password_once(
        self, two_workers: LiveServer, database: Database
    ) -> None:
        """Five rounds, each on a link of its own: two confirmations with different
        passwords sent at the same time to a two-process server; exactly one wins."""
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with httpx.AsyncClient(base_url=two_workers.url, limits=limits, timeout=60) as client:
            for _ in range(ROUNDS):
                user = await committed_user(database)
                token = await committed_link(database, user)
                await asyncio.gather(*(client.get("/healthz") for _ in range(2)))
                passwords = ["first racer password", "second racer password"]
                answers = await asyncio.gather(
                    *(client.post(CONFIRM, json={"token": token, "password": p}) for p in passwords)
                )
                statuses = [answer.status_code for answer in answers]
                assert sorted(statuses) == [200, 410], [answer.text for answer in answers]
                refused = answers[statuses.index(410)]
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.json()["code"] == "reset_link_invalid"
                winner, loser = passwords[statuses.index(200)], passwords[statuses.index(410)]
                assert await logs_in(database, user, winner)
                assert not await logs_in(database, user, loser)
                assert await audited_resets(database, user) == 1


class TestNoEnumeration:
    async def test_known_and_unknown_accounts_answer_alike_and_as_fast(
        self, database: Database
    ) -> None:
        """Interleaved requests for active accounts and for addresses no account has, from
        an address of their own on a server of their own (the throttle never stops them):
        the same status and body, and medians within 1.5x of each other."""
        url = database.engine.url.render_as_string(hide_password=False)
        known = [(await committed_user(database)).email for _ in range(PAIRS)]
        unknown = [f"{uuid.uuid4().hex}@example.fr" for _ in range(PAIRS)]
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        answers: set[tuple[int, str]] = set()
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with (
            serve(url, MCD_PASSWORD_RESET_MAX_PER_ADDRESS="1000") as server,
            httpx.AsyncClient(base_url=server.url, transport=transport, timeout=60) as client,
        ):

            async def ask(kind: str, email: str) -> None:
                started = time.perf_counter()
                answer = await client.post("/api/v1/auth/password-reset", json={"email": email})
                timings[kind].append(time.perf_counter() - started)
                answers.add((answer.status_code, answer.text))

            for _ in range(5):  # warm up the connection and the server's caches
                await client.post("/api/v1/auth/password-reset", json={"email": "w@example.fr"})
            for number, (mine, theirs) in enumerate(zip(known, unknown, strict=True)):
                pair = [("known", mine), ("unknown", theirs)]
                for kind, email in pair if number % 2 else reversed(pair):
                    await ask(kind, email)
        try:
            assert len(answers) == 1 and next(iter(answers))[0] == 202, answers
            medians = {kind: statistics.median(values) for kind, values in timings.items()}
            print("password reset medians (s):", medians)
            assert max(medians.values()) <= 1.5 * min(medians.values()), medians
            async with database.sessionmaker() as session:
                query = select(func.count()).where(col(Notification.recipient).in_(known))
                assert (await session.execute(query)).scalar_one() == PAIRS
        finally:
            async with database.sessionmaker() as session, session.begin():
                mailed = col(Notification.recipient).in_(known)
                await session.execute(delete(Notification).where(mailed))
