"""ledger: accounting entries booked once, never changed

Every entry the FEC exports is a row booked when its event happened; a trigger refuses
an UPDATE or a DELETE on both engines. The entries of the cheques, redemptions and
settled transfers already in the database are booked from their recorded dates.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:15:00
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import voucher_service.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNTS = ("commitment", "programme", "expense", "supplier", "bank")
PARIS = ZoneInfo("Europe/Paris")
UTC_TYPE = voucher_service.core.db.UTCDateTime(timezone=True)


def _text(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False)


def _account(name: str) -> sa.Column[str]:
    kind = sa.Enum(*ACCOUNTS, name="account", native_enum=False, length=30)
    return sa.Column(name, kind, nullable=False)


def upgrade() -> None:
    journal = sa.Enum("ENG", "ACH", "BQ", name="journal", native_enum=False, length=30)
    ledger = op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("source", 60),
        sa.Column("journal", journal, nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("booked_at", UTC_TYPE, nullable=False),
        _text("piece_ref", 60),
        _text("label", 200),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        _account("debit_account"),
        _text("debit_aux", 20),
        _text("debit_aux_label", 200),
        _account("credit_account"),
        _text("credit_aux", 20),
        _text("credit_aux_label", 200),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_ledger_entry_amount_positive")),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_entry.id"],
            name=op.f("fk_ledger_entry_reverses_id_ledger_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("source", name=op.f("uq_ledger_entry_source")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entry_entry_date"), ["entry_date"])
    _book_existing(ledger)
    _refuse_changes()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entry_immutable ON ledger_entry")
        op.execute("DROP FUNCTION ledger_entry_immutable()")
    else:
        op.execute("DROP TRIGGER ledger_entry_no_update")
        op.execute("DROP TRIGGER ledger_entry_no_delete")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_entry_date"))
    op.drop_table("ledger_entry")


def _refuse_changes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'ledger entries are never changed or deleted' "
            "USING ERRCODE = 'restrict_violation'; END $$"
        )
        op.execute(
            "CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE OR DELETE ON ledger_entry "
            "FOR EACH ROW EXECUTE FUNCTION ledger_entry_immutable()"
        )
        return
    for event in ("update", "delete"):
        op.execute(
            f"CREATE TRIGGER ledger_entry_no_{event} BEFORE {event.upper()} ON ledger_entry "
            "BEGIN SELECT RAISE(ABORT, 'ledger entries are never changed or deleted'); END"
        )


# Entries of the rows recorded before the ledger existed, in the order of their dates.


def _day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def _entry(source: str, journal: str, moment: datetime, piece: str, label: str, cents: int,
           debit: tuple[str, str, str], credit: tuple[str, str, str],
           ) -> dict[str, Any]:  # fmt: skip
    return {
        "source": source, "journal": journal, "entry_date": _day(moment), "booked_at": moment,
        "piece_ref": piece[:60], "label": label[:200], "amount_cents": cents,
        "debit_account": debit[0], "debit_aux": debit[1], "debit_aux_label": debit[2][:200],
        "credit_account": credit[0], "credit_aux": credit[1], "credit_aux_label": credit[2][:200],
    }  # fmt: skip


def _mirror(
    original: dict[str, Any], suffix: str, moment: datetime, label: str, cents: int
) -> dict[str, Any]:
    debit = (original["credit_account"], original["credit_aux"], original["credit_aux_label"])
    credit = (original["debit_account"], original["debit_aux"], original["debit_aux_label"])
    source = f"{original['source']}:{suffix}"
    return _entry(source, original["journal"], moment, original["piece_ref"], label, cents,
                  debit, credit) | {"reverses": original["source"]}  # fmt: skip


def _book_existing(ledger: sa.Table) -> None:
    bind = op.get_bind()
    entries = [*_cheques(bind), *_redemptions(bind), *_transfers(bind)]
    entries.sort(key=lambda entry: entry["booked_at"])
    ids: dict[str, int] = {}
    for entry in entries:
        reverses = entry.pop("reverses", None)
        values = entry | {"reverses_id": ids[reverses] if reverses else None}
        result = bind.execute(sa.insert(ledger).values(values).returning(ledger.c.id))
        ids[entry["source"]] = result.scalar_one()


def _cheques(bind: sa.Connection) -> list[dict[str, Any]]:
    rows: sa.CursorResult[Any] = bind.execute(
        sa.select(
            *(sa.column(name) for name in ("id", "code", "company_name", "programme_id")),
            sa.column("amount_cents"), sa.column("balance_cents"), sa.column("status"),
            sa.column("issued_at", UTC_TYPE), sa.column("cancelled_at", UTC_TYPE),
            sa.column("expired_at", UTC_TYPE), sa.column("name"),
        ).select_from(sa.text(
            "(SELECT voucher.id, voucher.code, voucher.company_name, voucher.programme_id, "
            "voucher.amount_cents, voucher.balance_cents, voucher.status, voucher.issued_at, "
            "voucher.cancelled_at, voucher.expired_at, programme.name "
            "FROM voucher JOIN programme ON programme.id = voucher.programme_id) AS v"
        ))
    )  # fmt: skip
    entries: list[dict[str, Any]] = []
    for row in rows:
        eng = _entry(f"voucher:{row.id}", "ENG", row.issued_at, row.code,
                     f"Chèque {row.code} {row.company_name}", row.amount_cents,
                     ("commitment", "", ""),
                     ("programme", f"P{row.programme_id:06d}", row.name))  # fmt: skip
        entries.append(eng)
        ended = {"cancelled": row.cancelled_at, "expired": row.expired_at}.get(row.status)
        if ended is not None and row.balance_cents > 0:
            word = {"cancelled": "annulé", "expired": "expiré"}[row.status]
            label = f"Chèque {row.code} {word} : solde libéré"
            entries.append(_mirror(eng, row.status, ended, label, row.balance_cents))
    return entries


def _redemptions(bind: sa.Connection) -> list[dict[str, Any]]:
    rows: sa.CursorResult[Any] = bind.execute(
        sa.select(
            sa.column("id"), sa.column("expert_id"), sa.column("amount_cents"),
            sa.column("invoice_reference"), sa.column("status"), sa.column("code"),
            sa.column("legal_name"), sa.column("redeemed_at", UTC_TYPE),
            sa.column("cancelled_at", UTC_TYPE),
        ).select_from(sa.text(
            "(SELECT redemption.id, redemption.expert_id, redemption.amount_cents, "
            "redemption.invoice_reference, redemption.status, voucher.code, "
            "expert.legal_name, redemption.redeemed_at, redemption.cancelled_at "
            "FROM redemption JOIN voucher ON voucher.id = redemption.voucher_id "
            "JOIN expert ON expert.id = redemption.expert_id) AS r"
        ))
    )  # fmt: skip
    entries: list[dict[str, Any]] = []
    for row in rows:
        ach = _entry(f"redemption:{row.id}", "ACH", row.redeemed_at,
                     row.invoice_reference or row.code, f"Chèque {row.code} prestation",
                     row.amount_cents, ("expense", "", ""),
                     ("supplier", f"E{row.expert_id:06d}", row.legal_name))  # fmt: skip
        entries.append(ach)
        if row.status == "cancelled" and row.cancelled_at is not None:
            label = f"Chèque {row.code} prestation annulée"
            entries.append(_mirror(ach, "cancelled", row.cancelled_at, label, row.amount_cents))
    return entries


def _transfers(bind: sa.Connection) -> list[dict[str, Any]]:
    rows: sa.CursorResult[Any] = bind.execute(
        sa.select(
            sa.column("id"), sa.column("expert_id"), sa.column("amount_cents"),
            sa.column("end_to_end_id"), sa.column("creditor_name"),
            sa.column("settled_at", UTC_TYPE),
        ).select_from(sa.table("payout_transfer"))
        .where(sa.column("status") == "settled", sa.column("settled_at").is_not(None))
    )  # fmt: skip
    return [
        _entry(f"transfer:{row.id}", "BQ", row.settled_at, row.end_to_end_id,
               f"Virement {row.end_to_end_id}", row.amount_cents,
               ("supplier", f"E{row.expert_id:06d}", row.creditor_name), ("bank", "", ""))
        for row in rows
    ]  # fmt: skip
