"""One TOTP code sent by several clients at once to two server processes: one login wins."""

import asyncio

import pyotp
from httpx import AsyncClient

from tests.fixtures.factories import PASSWORD, create_user
from tests.fixtures.servers import LiveServer
from voucher_service.core.auth import enrolment, second_factor
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import utcnow
from voucher_service.core.config import Settings
from voucher_service.core.db import Database

ATTEMPTS = 4  # fewer than the failures the throttle lets through


class TestReplay:
    async def test_the_same_code_at_once_logs_in_once(
        self, two_workers: LiveServer, database: Database, settings: Settings
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            user = await create_user(session, Role.accountant)
            started = second_factor.new_enrolment(settings, user)
            totp = pyotp.TOTP(started.secret)
            await enrolment.enable(session, settings, user, started.pending, totp.now())
        form = {"username": user.email, "password": PASSWORD}
        form["totp"] = totp.at(utcnow(), counter_offset=1)
        async with AsyncClient(base_url=two_workers.url, timeout=60) as client:
            answers = await asyncio.gather(
                *(client.post("/api/v1/auth/token", data=form) for _ in range(ATTEMPTS))
            )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [401] * (ATTEMPTS - 1), [a.text for a in answers]
        assert {a.json()["code"] for a in answers if a.status_code == 401} == {"invalid_totp"}
