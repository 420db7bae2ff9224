"""`voucher-service keys`, `verify` and `vouchers sweep-expired`, run as an operator does."""

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.cli import Result, run_cli
from tests.fixtures.databases import TEST_SECRET, make_settings
from tests.fixtures.factories import create_programme
from tests.fixtures.servers import LiveServer
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.config import Settings
from voucher_service.core.db import Database
from voucher_service.programmes.models import Programme
from voucher_service.vouchers import keys, tokens
from voucher_service.vouchers.service import IssuedVoucher


class Operator:
    """A migrated database of its own, the CLI on it, and committed cheques."""

    def __init__(self, url: str) -> None:
        self.env = {"MCD_DATABASE_URL": url, "MCD_SECRET_KEY": TEST_SECRET}
        self.settings = make_settings(url)
        self.database = Database.from_settings(self.settings)
        self.programme_id: int | None = None

    async def cli(self, *args: str) -> Result:
        return await run_cli(*args, env=self.env)

    async def issue(self, **validity: date | None) -> IssuedVoucher:
        async with self.database.sessionmaker() as session, session.begin():
            programme = await self._programme(session)
            return await create_voucher(session, self.settings, programme, **validity)

    async def _programme(self, session: AsyncSession) -> Programme:
        if self.programme_id is None:
            programme = await create_programme(session)
            self.programme_id = programme.id
            return programme
        stored = await session.get(Programme, self.programme_id)
        assert stored is not None
        return stored

    async def forge_expired(self, voucher_id: int) -> str:
        """A token our active key signed, whose expiry has passed."""
        async with self.database.sessionmaker() as session, session.begin():
            kid, private_key = await keys.signer(session, self.settings)
        past = int((utcnow() - timedelta(days=1)).timestamp())
        return tokens.sign(private_key, tokens.Claims(voucher_id, 200_000, past, kid))


@pytest.fixture
async def operator(empty_database_url: str) -> AsyncIterator[Operator]:
    operator = Operator(empty_database_url)
    assert (await operator.cli("migrate")).code == 0
    yield operator
    await operator.database.engine.dispose()


def refused(result: Result, reason: str) -> None:
    assert result.code == 1, result.stderr
    assert "Refused" in result.stderr and reason in result.stderr, result.stderr


class TestKeysAndVerify:
    async def test_rotation_then_offline_verification(self, operator: Operator) -> None:
        old = await operator.issue()
        checked = await operator.cli("verify", f"http://ailleurs.example/r/{old.token}")
        assert checked.code == 0, checked.stderr
        claims = json.loads(checked.stdout)
        assert (claims["sub"], claims["amt"], claims["kid"]) == (
            str(old.voucher.id),
            200_000,
            old.voucher.key_id,
        )

        rotated = await operator.cli("keys", "rotate")
        assert rotated.code == 0, rotated.stderr
        new = await operator.issue()
        assert new.voucher.key_id != old.voucher.key_id and new.voucher.key_id in rotated.stderr
        for issued in (old, new):
            result = await operator.cli("verify", issued.token)
            assert result.code == 0 and json.loads(result.stdout)["kid"] == issued.voucher.key_id

        listed = await operator.cli("keys", "list")
        assert old.voucher.key_id in listed.stdout and new.voucher.key_id in listed.stdout
        in_use = await operator.cli("keys", "retire", old.voucher.key_id)
        assert in_use.code == 1 and "en cours" in in_use.stderr

    async def test_a_key_id_starting_with_a_dash_is_an_id_not_an_option(
        self, operator: Operator
    ) -> None:
        result = await operator.cli("keys", "retire", "-AbCdEfGhIjKlMnOp")
        assert result.code == 1, result.stderr
        assert "Aucune clé active « -AbCdEfGhIjKlMnOp »" in " ".join(result.stderr.split())

    async def test_the_last_valid_day_is_the_one_the_pdf_prints(self, operator: Operator) -> None:
        issued = await operator.issue()
        result = await operator.cli("verify", issued.token)
        assert result.code == 0, result.stderr
        printed = " ".join(result.stderr.split())
        last_day = issued.voucher.valid_until.strftime("%d/%m/%Y")
        assert f"valid until {last_day} inclusive (Paris time)" in printed, printed
        assert f"cheque #{issued.voucher.id}," in printed and " à " not in printed

    async def test_refusals_name_their_reason(self, operator: Operator) -> None:
        issued = await operator.issue()
        body, signature = issued.token.rsplit(".", 1)
        flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
        refused(await operator.cli("verify", f"{body}.{flipped}"), "invalid token")
        refused(await operator.cli("verify", "http://[ailleurs/r/x"), "adresse est illisible")
        foreign = tokens.sign(
            Ed25519PrivateKey.generate(), tokens.Claims(1, 200_000, 2_000_000_000, "elsewhere")
        )
        refused(await operator.cli("verify", foreign), "unknown signing key elsewhere")
        nul = tokens.sign(Ed25519PrivateKey.generate(), tokens.Claims(1, 1, 2_000_000_000, "a\x00"))
        result = await operator.cli("verify", nul)
        refused(result, "identifiant de clé invalide")
        assert "Traceback" not in result.stderr
        expired = await operator.forge_expired(issued.voucher.id or 0)
        refused(await operator.cli("verify", expired), "expired")


class TestSweepExpired:
    async def test_sweeps_once(self, operator: Operator) -> None:
        await operator.issue(valid_until=paris_today() - timedelta(days=1))
        await operator.issue()
        first = await operator.cli("vouchers", "sweep-expired")
        assert first.code == 0 and "1 cheque(s) expired" in first.stderr, first.stderr
        assert "2 000,00" in first.stderr.replace("\u202f", " ").replace("\u00a0", " ")
        second = await operator.cli("vouchers", "sweep-expired")
        assert "0 cheque(s) expired" in second.stderr


class TestVerifyAgainstPublishedKeys:
    async def test_with_the_jwks_url_and_no_database(
        self, database: Database, settings: Settings, live_server: LiveServer
    ) -> None:
        async with database.sessionmaker() as session, session.begin():
            issued = await create_voucher(session, settings)
        unreachable = {"MCD_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/none"}
        jwks_url = f"{live_server.url}/.well-known/jwks.json"
        result = await run_cli("verify", issued.token, "--jwks-url", jwks_url, env=unreachable)
        assert result.code == 0, result.stderr
        assert json.loads(result.stdout)["sub"] == str(issued.voucher.id)
