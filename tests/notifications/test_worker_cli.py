"""`voucher-service worker` as an operator runs it: a real process on the test database."""

import asyncio
import os
import signal
import uuid

import pytest

from notifications.models import NotificationStatus
from tests.fixtures.cli import COMMAND, run_cli
from tests.fixtures.servers import free_port
from tests.fixtures.smtp import SmtpServer
from tests.notifications.conftest import queue, reload
from voucher_service.core.db import Database

pytestmark = pytest.mark.usefixtures("empty_outbox")


def worker_env(database: Database, smtp_port: int | None) -> dict[str, str]:
    return {
        "MCD_DATABASE_URL": database.engine.url.render_as_string(hide_password=False),
        "MCD_SMTP_HOST": "127.0.0.1" if smtp_port else "",
        "MCD_SMTP_PORT": str(smtp_port or 25),
        "MCD_SMTP_TLS": "none",
    }


def address() -> str:
    return f"cli+{uuid.uuid4().hex[:10]}@example.fr"


class TestWorkerCommand:
    async def test_once_delivers_what_is_due_and_exits(
        self, database: Database, smtp_server: SmtpServer
    ) -> None:
        recipient = address()
        queued = await queue(database, recipient)
        result = await run_cli("worker", "--once", env=worker_env(database, smtp_server.port))
        assert result.code == 0, result.stderr
        assert "Sent 1" in result.stderr
        [message] = smtp_server.received_by(recipient)
        assert message["Message-ID"] == queued.message_id

    async def test_without_a_host_messages_stay_queued(self, database: Database) -> None:
        queued = await queue(database, address())
        result = await run_cli("worker", "--once", env=worker_env(database, None))
        assert result.code == 2 and "MCD_SMTP_HOST" in result.stderr
        assert (await reload(database, queued.id)).status is NotificationStatus.queued

    async def test_an_unreachable_server_exits_1_and_counts_no_attempt(
        self, database: Database
    ) -> None:
        queued = await queue(database, address())
        result = await run_cli("worker", "--once", env=worker_env(database, free_port()))
        assert result.code == 1 and "unreachable" in result.stderr
        waiting = await reload(database, queued.id)
        assert (waiting.status, waiting.attempts) == (NotificationStatus.queued, 0)

    async def test_the_loop_delivers_then_stops_cleanly_on_sigterm(
        self, database: Database, smtp_server: SmtpServer
    ) -> None:
        process = await asyncio.create_subprocess_exec(
            *COMMAND,
            "worker",
            "--poll-interval",
            "0.1",
            env={**os.environ, "MCD_ENV": "test", **worker_env(database, smtp_server.port)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            recipient = address()
            await queue(database, recipient)
            async with asyncio.timeout(20):
                while not smtp_server.received_by(recipient):
                    await asyncio.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, errors.decode()
