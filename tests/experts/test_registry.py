"""The expert registry: registration with real identifiers, accreditation, bank details."""

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from experts import registry
from experts.models import Accreditation, Invitation
from notifications.models import Notification
from tests.core.test_errors import assert_problem
from tests.fixtures.factories import (
    FACTORY_SETTINGS,
    PASSWORD,
    HeadersFor,
    bearer,
    create_expert,
    expert_body,
    user_of,
)
from voucher_service.core.auth.models import Role
from voucher_service.core.config import Settings

URL = "/api/v1/experts"


class TestRegister:
    async def test_admin_registers_an_expert_who_can_log_in(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        body = expert_body(iban="fr76 3000 6000 0112 3456 7890 189")
        response = await client.post(URL, json=body, headers=await headers_for(Role.admin))
        assert response.status_code == 201, response.text
        expert = response.json()
        assert expert["status"] == "pending" and expert["iban"] == "FR7630006000011234567890189"
        token = await client.post(
            "/api/v1/auth/token", data={"username": body["email"], "password": PASSWORD}
        )
        assert token.json()["role"] == "expert"

    async def test_identifiers_are_checked_not_just_shaped(
        self, client: AsyncClient, headers_for: HeadersFor
    ) -> None:
        body = expert_body(
            siret="73282932000075", iban="FR7630006000011234567890188", bic="AGRIXXPP"
        )
        response = await client.post(URL, json=body, headers=await headers_for(Role.admin))
        problem = assert_problem(response, 422, "validation_error")
        fields = {error["loc"][-1] for error in problem["errors"]}
        assert {"siret", "iban", "bic"} <= fields

    async def test_without_password_an_invitation_is_mailed(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        from experts.schemas import ExpertCreate

        expert, token = await registry.register(
            session, ExpertCreate.model_validate(expert_body(password=None)), settings
        )
        assert token is not None
        queued = (
            await session.execute(
                select(Notification).where(col(Notification.recipient) == expert.email)
            )
        ).scalar_one()
        assert queued.event == "expert_invitation"
        assert queued.data["invitation_url"] == f"{settings.public_url}/invitation/{token}"
        stored = (
            await session.execute(
                select(Invitation).where(col(Invitation.user_id) == expert.user_id)
            )
        ).scalar_one()
        assert token not in stored.token_hash
        user = await registry.accept_invitation(session, token, "my own long password")
        assert user.password_hash is not None

    async def test_an_invitation_is_used_once(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        from experts.errors import InvitationInvalid
        from experts.schemas import ExpertCreate

        _, token = await registry.register(
            session, ExpertCreate.model_validate(expert_body(password=None)), settings
        )
        assert token is not None
        await registry.accept_invitation(session, token, "my own long password")
        with pytest.raises(InvitationInvalid):
            await registry.accept_invitation(session, token, "another long password")

    async def test_same_email_twice(self, client: AsyncClient, headers_for: HeadersFor) -> None:
        headers = await headers_for(Role.admin)
        body = expert_body()
        assert (await client.post(URL, json=body, headers=headers)).status_code == 201
        assert_problem(await client.post(URL, json=body, headers=headers), 409, "expert_exists")


class TestAccreditation:
    async def test_pending_accredited_suspended_revoked_with_history(
        self,
        client: AsyncClient,
        session: AsyncSession,
        headers_for: HeadersFor,
    ) -> None:
        expert = await create_expert(session, Accreditation.pending)
        headers = await headers_for(Role.admin)
        for action, status in (
            ("accredit", "accredited"),
            ("suspend", "suspended"),
            ("accredit", "accredited"),
            ("revoke", "revoked"),
        ):
            response = await client.post(
                f"{URL}/{expert.id}/{action}",
                headers=headers,
                json={"reason": f"décision {action}"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == status
        history = response.json()["history"]
        assert [h["to_status"] for h in history] == [
            "pending",
            "accredited",
            "suspended",
            "accredited",
            "revoked",
        ]
        assert all(h["decided_by"] for h in history[1:])

    async def test_revoked_is_final(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        expert = await create_expert(session, Accreditation.revoked)
        response = await client.post(
            f"{URL}/{expert.id}/accredit",
            headers=await headers_for(Role.admin),
            json={"reason": "Nouvelle demande"},
        )
        problem = assert_problem(response, 409, "invalid_state")
        assert problem["detail"] == "L'accréditation a été retirée : ce retrait est définitif."

    async def test_a_decision_needs_a_reason(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        expert = await create_expert(session, Accreditation.pending)
        for body in (None, {}, {"reason": "   "}):
            response = await client.post(
                f"{URL}/{expert.id}/accredit", headers=await headers_for(Role.admin), json=body
            )
            assert_problem(response, 422, "validation_error")

    async def test_suspended_expert_still_logs_in_and_sees_itself(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        expert = await create_expert(session, Accreditation.suspended)
        headers = bearer(settings, await user_of(session, expert.user_id))
        me = await client.get(f"{URL}/me", headers=headers)
        assert me.status_code == 200 and me.json()["status"] == "suspended"


class TestBankDetails:
    async def test_new_iban_waits_for_an_admin(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        expert = await create_expert(session)
        expert_headers = bearer(settings, await user_of(session, expert.user_id))
        asked = await client.post(
            f"{URL}/me/bank-details",
            headers=expert_headers,
            json={"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
        )
        assert asked.status_code == 200
        assert asked.json()["iban"] == "FR7630006000011234567890189"
        assert asked.json()["pending_iban"] == "DE89370400440532013000"
        admin = await headers_for(Role.admin)
        confirmed = await client.post(f"{URL}/{expert.id}/bank-details/confirm", headers=admin)
        assert confirmed.json()["iban"] == "DE89370400440532013000"
        assert confirmed.json()["pending_iban"] is None
        again = await client.post(f"{URL}/{expert.id}/bank-details/confirm", headers=admin)
        assert_problem(again, 409, "no_pending_bank_details")

    async def test_refused_details_keep_the_confirmed_ones_and_tell_why(
        self,
        client: AsyncClient,
        session: AsyncSession,
        settings: Settings,
        headers_for: HeadersFor,
    ) -> None:
        expert = await create_expert(session)
        admin = await headers_for(Role.admin)
        refuse = f"{URL}/{expert.id}/bank-details/refuse"
        nothing = await client.post(refuse, headers=admin, json={"reason": "RIB illisible"})
        assert_problem(nothing, 409, "no_pending_bank_details")
        expert_headers = bearer(settings, await user_of(session, expert.user_id))
        details = {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"}
        await client.post(f"{URL}/me/bank-details", headers=expert_headers, json=details)
        assert_problem(await client.post(refuse, headers=admin, json={}), 422, "validation_error")
        refused = await client.post(refuse, headers=admin, json={"reason": "RIB illisible"})
        assert refused.status_code == 200, refused.text
        assert refused.json()["iban"] == "FR7630006000011234567890189"
        assert refused.json()["pending_iban"] is None
        told = await queued(session, expert.email, "expert_bank_details_refused")
        assert told == [{**told[0], "reason": "RIB illisible", "iban_last4": "3000"}]


async def queued(session: AsyncSession, recipient: str, event: str) -> list[dict[str, object]]:
    from notifications import payload

    query = select(Notification).where(
        col(Notification.recipient) == recipient, col(Notification.event) == event
    )
    return [payload.decode(n.data) for n in (await session.execute(query)).scalars()]


class TestDecisionsAreTold:
    async def test_each_decision_mails_its_reason(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        expert = await create_expert(session, Accreditation.pending)
        headers = await headers_for(Role.admin)
        for action, event in (
            ("accredit", "expert_accredited"),
            ("suspend", "expert_suspended"),
            ("revoke", "expert_revoked"),
        ):
            reason = f"Motif de la décision {action}"
            response = await client.post(
                f"{URL}/{expert.id}/{action}", headers=headers, json={"reason": reason}
            )
            assert response.status_code == 200, response.text
            [told] = await queued(session, expert.email, event)
            assert told["reason"] == reason


class TestResendInvitation:
    async def test_a_new_link_voids_the_earlier_one(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        from experts.errors import InvitationInvalid
        from experts.schemas import ExpertCreate

        expert, first = await registry.register(
            session, ExpertCreate.model_validate(expert_body(password=None)), FACTORY_SETTINGS
        )
        assert first is not None
        headers = await headers_for(Role.admin)
        resent = await client.post(f"{URL}/{expert.id}/resend-invitation", headers=headers)
        assert resent.status_code == 200, resent.text
        mailed = await queued(session, expert.email, "expert_invitation")
        links = [str(data["invitation_url"]) for data in mailed]
        assert len(links) == 2 and links[0].endswith(first)
        with pytest.raises(InvitationInvalid):
            await registry.accept_invitation(session, first, "my own long password")
        second = links[1].rsplit("/", 1)[1]
        user = await registry.accept_invitation(session, second, "my own long password")
        assert user.password_hash is not None
        again = await client.post(f"{URL}/{expert.id}/resend-invitation", headers=headers)
        assert_problem(again, 409, "invitation_already_accepted")


class TestList:
    async def test_filters_by_state_theme_department_and_text(
        self, client: AsyncClient, session: AsyncSession, headers_for: HeadersFor
    ) -> None:
        tag = uuid.uuid4().hex
        one = await create_expert(
            session, name=f"Un {tag}", themes=["cybersecurity"], departments=["13"]
        )
        two = await create_expert(
            session,
            Accreditation.suspended,
            name=f"Deux {tag}",
            themes=["collaboration"],
            departments=["83"],
        )
        headers = await headers_for(Role.admin)

        async def names(**params: str) -> list[str]:
            response = await client.get(URL, params={"q": tag, **params}, headers=headers)
            assert response.status_code == 200, response.text
            return [e["legal_name"] for e in response.json()]

        assert await names() == [two.legal_name, one.legal_name]
        assert await names(status="suspended") == [two.legal_name]
        assert await names(theme="cybersecurity") == [one.legal_name]
        assert await names(department="83") == [two.legal_name]
        assert await names(q=one.email.upper()) == [one.legal_name]
        bad = await client.get(URL, params={"department": "1%"}, headers=headers)
        assert_problem(bad, 422, "validation_error")
