"""Signed tokens and keys: what is presented resolves to the cheque, and nothing else does."""

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.core.test_errors import assert_problem
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import HeadersFor
from tests.fixtures.vouchers import create_voucher
from voucher_service.core.audit import AuditEvent
from voucher_service.core.auth.models import Role
from voucher_service.core.clock import paris_today
from voucher_service.core.config import Settings
from voucher_service.vouchers import codes, keys, service, tokens
from voucher_service.vouchers.errors import (
    ActiveKeyRetirement,
    InvalidToken,
    SigningKeyInUse,
    SigningKeyNotFound,
    SigningKeyUnreadable,
    UnknownSigningKey,
    VoucherNotFound,
)
from voucher_service.vouchers.models import SigningKey
from voucher_service.vouchers.validity import end_of_validity

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def segment_json(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(tokens.b64url_decode(segment))
    return decoded


def altered(token: str, position: int) -> str:
    """The token with the character at ``position`` replaced by another base64url one."""
    if token[position] == ".":
        return token[:position] + "A" + token[position + 1 :]
    replacement = BASE64URL[(BASE64URL.index(token[position]) + 1) % len(BASE64URL)]
    return token[:position] + replacement + token[position + 1 :]


class TestToken:
    async def test_compact_jws_with_short_claims_and_no_personal_data(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        header, payload, signature = issued.token.split(".")
        assert segment_json(header) == {"alg": "EdDSA", "kid": issued.voucher.key_id}
        claims = segment_json(payload)
        assert claims == {
            "sub": str(issued.voucher.id),
            "amt": issued.voucher.amount_cents,
            "exp": int(end_of_validity(issued.voucher.valid_until).timestamp()),
        }
        assert len(tokens.b64url_decode(signature)) == 64
        assert len(issued.token) < 220
        for personal in ("Atelier", "73282932000074", "elodie"):
            assert personal not in json.dumps(claims)

    async def test_what_a_qr_says_a_token_or_a_typed_code(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        bare = issued.code.removeprefix("MCD-")
        for presented in (
            f"{settings.public_url}/r/{issued.token}",
            f"https://ancienne-adresse.example/r/{issued.token}/",
            f"  {issued.token}\n",
            issued.code,
            bare.lower().replace("-", " "),
            bare.replace("-", ""),
        ):
            assert (await service.resolve(session, presented, settings)).id == issued.voucher.id

    async def test_every_altered_character_is_refused(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        token = (await create_voucher(session, settings)).token
        header_end = token.index(".")
        for position in range(len(token)):
            with pytest.raises((InvalidToken, UnknownSigningKey)) as refused:
                await service.resolve(session, altered(token, position), settings)
            if position > header_end:  # the payload and the signature: a forgery
                assert refused.value.code == "invalid_token", position

    async def test_malformed_tokens_are_invalid(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        token = (await create_voucher(session, settings)).token
        header, payload, signature = token.split(".")
        none_header = tokens.b64url(b'{"alg":"none","kid":"x"}')
        for wrong in (
            f"{header}.{payload}",
            f"{token}.{signature}",
            f"{none_header}.{payload}.",
            f"{header}.{payload}.{signature}=",
            f"{header}.{payload}.{signature[:-2]}",
            "a.b.c",
            "http://testserver/autre/chose",
            "MCD-2222-2222",
        ):
            with pytest.raises(InvalidToken) as refused:
                await service.resolve(session, wrong, settings)
            assert str(refused.value.detail).startswith(("Jeton refusé : ", "Ce code n'est pas")), (
                wrong
            )
        with pytest.raises(InvalidToken) as refused:
            await service.resolve(session, f"{header}.{payload}.{signature[:-2]}", settings)
        assert str(refused.value.detail).startswith("Jeton refusé : ")

    async def test_a_key_the_service_does_not_have(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        claims = tokens.Claims(issued.voucher.id or 0, 200_000, 2_000_000_000, "not-our-key")
        forged = tokens.sign(Ed25519PrivateKey.generate(), claims)
        with pytest.raises(UnknownSigningKey) as refused:
            await service.resolve(session, forged, settings)
        assert refused.value.detail == "Clé « not-our-key » inconnue ou retirée."

    async def test_our_key_but_not_the_issued_token(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        issued = await create_voucher(session, settings)
        kid, private_key = await keys.signer(session, settings)
        assert tokens.parse(issued.token).kid == kid
        richer = tokens.Claims(issued.voucher.id or 0, 9_999_999, 2_000_000_000, kid)
        with pytest.raises(InvalidToken) as refused:
            await service.resolve(session, tokens.sign(private_key, richer), settings)
        assert refused.value.detail == "Ce jeton n'est pas celui émis pour ce chèque."
        missing = replace(richer, voucher_id=987_654_321)
        with pytest.raises(VoucherNotFound) as not_found:
            await service.resolve(session, tokens.sign(private_key, missing), settings)
        assert not_found.value.detail == "Aucun chèque n°987654321."

    async def test_unknown_code(self, session: AsyncSession, settings: Settings) -> None:
        code = codes.new_code()
        with pytest.raises(VoucherNotFound) as refused:
            await service.resolve(session, code, settings)
        assert refused.value.detail == f"Aucun chèque {code}."

    async def test_each_refusal_says_why_in_french(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        for presented, detail in (
            ("MCD-2222-2222", "Ce code n'est pas un code de chèque valable : vérifiez la saisie."),
            (
                "http://testserver/autre/chose",
                "Jeton refusé : cette adresse n'est pas celle d'un chèque.",
            ),
        ):
            with pytest.raises(InvalidToken) as refused:
                await service.resolve(session, presented, settings)
            assert refused.value.detail == detail


class TestKeys:
    async def test_rotation_keeps_old_cheques_valid(
        self, session: AsyncSession, settings: Settings, client: AsyncClient
    ) -> None:
        old = await create_voucher(session, settings)
        new_key = await keys.create_key(session, settings)
        new = await create_voucher(session, settings)
        assert new.voucher.key_id == new_key.kid != old.voucher.key_id
        assert tokens.parse(new.token).kid == new_key.kid
        for issued in (old, new):
            assert (await service.resolve(session, issued.token, settings)).id == issued.voucher.id
        published = (await client.get("/.well-known/jwks.json")).json()["keys"]
        assert {old.voucher.key_id, new_key.kid} <= {key["kid"] for key in published}

    async def test_retired_keys_stop_verifying(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        old = await create_voucher(session, settings)
        with pytest.raises(ActiveKeyRetirement):
            await keys.retire(session, old.voucher.key_id, paris_today())
        await keys.create_key(session, settings)
        with pytest.raises(SigningKeyInUse):
            await keys.retire(session, old.voucher.key_id, paris_today())
        assert await keys.retire(session, old.voucher.key_id, paris_today(), force=True) >= 1
        with pytest.raises(UnknownSigningKey):
            await service.resolve(session, old.token, settings)
        assert (await service.resolve(session, old.code, settings)).id == old.voucher.id

    async def test_private_keys_are_encrypted_under_the_secret(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        key = await keys.create_key(session, settings)
        stored = (
            await session.execute(select(SigningKey).where(col(SigningKey.kid) == key.kid))
        ).scalar_one()
        private_key = keys.decrypt_private_key(settings, stored)
        raw = private_key.private_bytes_raw()
        assert tokens.b64url(raw) not in stored.private_key_encrypted
        assert raw not in tokens.b64url_decode(stored.private_key_encrypted)
        assert private_key.public_key().public_bytes_raw() == tokens.b64url_decode(
            stored.public_key
        )
        other = make_settings(settings.database_url, secret_key="another-secret-" + "x" * 40)
        with pytest.raises(SigningKeyUnreadable):
            keys.decrypt_private_key(other, stored)

    async def test_first_key_is_created_on_first_issuance(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        for key in await keys.published(session):
            key.retired_at = key.created_at
        await session.flush()
        assert await keys.active_kid(session) is None
        issued = await create_voucher(session, settings)
        assert await keys.active_kid(session) == issued.voucher.key_id


class TestRetirement:
    async def test_only_live_cheques_hold_a_key_back(
        self, session: AsyncSession, settings: Settings, client: AsyncClient
    ) -> None:
        """Live: spendable, and valid today or later (its last day today counts)."""
        today = paris_today()
        kid = (await keys.create_key(session, settings)).kid
        last_day = await create_voucher(session, settings, valid_until=today)
        old = await create_voucher(session, settings, valid_until=today - timedelta(days=1))
        withdrawn = await create_voucher(session, settings)
        await service.cancel(session, withdrawn.voucher.id or 0, "Doublon")
        spent = await create_voucher(session, settings)
        await service.take_amount(session, spent.voucher.id or 0, 200_000, today)
        assert {i.voucher.key_id for i in (last_day, old, withdrawn, spent)} == {kid}
        newest = (await keys.create_key(session, settings)).kid

        with pytest.raises(SigningKeyInUse) as refused:
            await keys.retire(session, kid, today)
        assert refused.value.extra == {"live": 1}
        assert f"1 chèque(s) en cours sont signés par « {kid} »" in str(refused.value.detail)
        assert await keys.retire(session, kid, today, force=True) == 1
        retired = await session.scalar(
            select(col(AuditEvent.after)).where(
                col(AuditEvent.action) == "signing_key.retired", col(AuditEvent.entity_id) == kid
            )
        )
        assert retired == {"live": 1}
        with pytest.raises(SigningKeyNotFound):
            await keys.retire(session, kid, today)
        with pytest.raises(SigningKeyNotFound):
            await keys.retire(session, "no-such-key", today)

        published = [
            key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]
        ]
        assert published[0] == newest and kid not in published
        assert kid in [key.kid for key in await keys.all_keys(session)]

    async def test_a_key_whose_cheques_are_all_spent_retires_without_force(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        today = paris_today()
        kid = (await keys.create_key(session, settings)).kid
        spent = await create_voucher(session, settings)
        await service.take_amount(session, spent.voucher.id or 0, 200_000, today)
        await keys.create_key(session, settings)
        assert await keys.retire(session, kid, today) == 0


class TestThumbprint:
    def test_the_rfc_8037_example_key(self) -> None:
        """RFC 8037, appendix A.3: the JWK thumbprint of the example public key is
        kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k; its first 96 bits are the kid."""
        public_raw = tokens.b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        assert keys.thumbprint(public_raw) == "kPrK_qmxVWaYVA9w"

    async def test_a_new_key_is_named_by_its_thumbprint_and_audited(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        key = await keys.create_key(session, settings)
        assert key.kid == keys.thumbprint(tokens.b64url_decode(key.public_key))
        created = await session.scalar(
            select(col(AuditEvent.after)).where(
                col(AuditEvent.action) == "signing_key.created",
                col(AuditEvent.entity_id) == key.kid,
            )
        )
        assert created == {"kid": key.kid}


class TestJwks:
    async def test_published_as_rfc_8037_keys(
        self, session: AsyncSession, settings: Settings, client: AsyncClient
    ) -> None:
        issued = await create_voucher(session, settings)
        response = await client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        assert "max-age" in response.headers["cache-control"]
        published = {key["kid"]: key for key in response.json()["keys"]}
        key = published[issued.voucher.key_id]
        assert key == {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": key["x"],
            "kid": issued.voucher.key_id,
            "use": "sig",
            "alg": "EdDSA",
        }
        assert len(tokens.b64url_decode(key["x"])) == 32
        assert not {"d", "private_key_encrypted"} & set(key)


class TestLookupProblems:
    async def test_altered_and_foreign_tokens_are_distinct_problems(
        self,
        session: AsyncSession,
        settings: Settings,
        client: AsyncClient,
        headers_for: HeadersFor,
    ) -> None:
        headers = await headers_for(Role.accountant)
        issued = await create_voucher(session, settings)
        ok = await client.get(f"/api/v1/vouchers/{issued.token}", headers=headers)
        assert ok.status_code == 200 and ok.json()["code"] == issued.code
        tampered = altered(issued.token, len(issued.token) - 10)
        response = await client.get(f"/api/v1/vouchers/{tampered}", headers=headers)
        assert_problem(response, 422, "invalid_token")
        foreign = tokens.sign(
            Ed25519PrivateKey.generate(), tokens.Claims(1, 200_000, 2_000_000_000, "elsewhere")
        )
        response = await client.get(f"/api/v1/vouchers/{foreign}", headers=headers)
        assert_problem(response, 422, "unknown_signing_key")

    @pytest.mark.parametrize("kid", ["a\x00b", "k" * 33, "clé", "a.b", "a b"])
    async def test_a_key_id_that_is_no_bounded_base64url_is_an_invalid_token(
        self,
        session: AsyncSession,
        settings: Settings,
        client: AsyncClient,
        headers_for: HeadersFor,
        kid: str,
    ) -> None:
        forged = tokens.sign(
            Ed25519PrivateKey.generate(), tokens.Claims(1, 200_000, 2_000_000_000, kid)
        )
        headers = await headers_for(Role.accountant)
        response = await client.get(f"/api/v1/vouchers/{forged}", headers=headers)
        problem = assert_problem(response, 422, "invalid_token")
        assert problem["detail"] == "Jeton refusé : identifiant de clé invalide."
