"""Which e-mails have an account must not show in how long a refused login takes."""

import statistics
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.databases import make_settings
from tests.fixtures.factories import create_user
from voucher_service.core.auth import service
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings
from voucher_service.core.errors import InvalidCredentials

ROUNDS = 12


async def refusal_seconds(
    session: AsyncSession, settings: Settings, email: str, address: str
) -> float:
    start = time.perf_counter()
    with pytest.raises(InvalidCredentials):
        await service.authenticate(session, settings, email, "not the password!", address)
    return time.perf_counter() - start


class TestRefusalTiming:
    async def test_every_refusal_verifies_a_real_hash(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        unthrottled = make_settings(settings.database_url, login_max_failures=1000)
        existing = await create_user(session, Role.admin)
        inactive = await create_user(session, Role.admin)
        inactive.is_active = False
        invited = await service.create_user(session, "invited@example.fr", Role.expert, None)
        emails = {
            "existing": existing.email,
            "unknown": "nobody-here@example.fr",
            "inactive": inactive.email,
            "without password": invited.email,
        }
        timings: dict[str, list[float]] = {kind: [] for kind in emails}
        kinds = list(emails)
        for round_ in range(ROUNDS):  # interleaved, each round in another order, so that
            order = kinds[round_ % 4 :] + kinds[: round_ % 4]  # load affects every kind alike
            for kind in order:
                address = f"192.0.2.{round_}"
                seconds = await refusal_seconds(session, unthrottled, emails[kind], address)
                timings[kind].append(seconds)
        medians = {kind: statistics.median(values) for kind, values in timings.items()}
        print("refusal medians (ms):", {k: round(v * 1000, 1) for k, v in medians.items()})
        reference = medians["existing"]
        for kind, median in medians.items():
            assert reference / 1.5 <= median <= reference * 1.5, (kind, medians)
