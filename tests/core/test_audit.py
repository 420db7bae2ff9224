"""The audit trail's hash chain detects edited, deleted and truncated rows."""

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voucher_service.core import audit
from voucher_service.core.audit import AuditEvent


async def record_three(session: AsyncSession) -> list[AuditEvent]:
    return [
        await audit.record(session, "cheque.issued", "voucher", n, after={"amount_cents": 200000})
        for n in (1, 2, 3)
    ]


async def rows_from(session: AsyncSession, first: AuditEvent) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.seq >= first.seq).order_by(AuditEvent.seq)
    return list((await session.execute(query)).scalars())


class TestVerifyChain:
    async def test_intact_chain(self, session: AsyncSession) -> None:
        events = await record_three(session)
        assert events[1].prev_hash == events[0].hash
        count, broken = await audit.verify_chain(session)
        assert broken is None and count >= 3

    async def test_edited_row_is_named(self, session: AsyncSession) -> None:
        events = await record_three(session)
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == events[1].id)
            .values(after={"amount_cents": 1})
        )
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None
        assert (broken.seq, broken.event_id) == (events[1].seq, events[1].id)

    async def test_deleted_row_is_found(self, session: AsyncSession) -> None:
        events = await record_three(session)
        await session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None and broken.event_id == events[2].id

    async def test_deleted_last_row_is_found(self, session: AsyncSession) -> None:
        events = await record_three(session)
        await session.execute(delete(AuditEvent).where(AuditEvent.id == events[2].id))
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None and broken.seq == events[2].seq

    async def test_rewritten_hashes_still_break_the_link(self, session: AsyncSession) -> None:
        events = await record_three(session)
        forged = events[1].model_copy(update={"actor_label": "someone else"})
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == events[1].id)
            .values(actor_label="someone else", hash=audit._digest(forged))
        )
        session.expire_all()
        _, broken = await audit.verify_chain(session)
        assert broken is not None and broken.event_id == events[2].id

    async def test_records_who_and_in_which_request(self, session: AsyncSession) -> None:
        from voucher_service.core.context import Actor, current_actor, request_id

        actor_token = current_actor.set(Actor(7, "admin", "admin@example.fr"))
        rid_token = request_id.set("req-42")
        try:
            event = await audit.record(
                session,
                "application.approved",
                "application",
                9,
                before={"status": "eligible"},
                after={"status": "approved"},
            )
        finally:
            current_actor.reset(actor_token)
            request_id.reset(rid_token)
        stored = (await rows_from(session, event))[0]
        assert (stored.actor_id, stored.actor_role, stored.request_id) == (7, "admin", "req-42")
        assert stored.before == {"status": "eligible"} and stored.after == {"status": "approved"}
