import json
import logging

from voucher_service.core.context import request_id
from voucher_service.core.logs import JsonFormatter


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord(
        "voucher_service.access", logging.INFO, __file__, 1, message, None, None
    )


def test_access_lines_are_json_with_the_request_id() -> None:
    token = request_id.set("req-7")
    try:
        line = JsonFormatter().format(record(json.dumps({"status": 201, "route": "/x"})))
    finally:
        request_id.reset(token)
    entry = json.loads(line)
    assert entry["request_id"] == "req-7" and entry["status"] == 201
    assert entry["level"] == "info" and entry["logger"] == "voucher_service.access"


def test_plain_messages_stay_readable() -> None:
    entry = json.loads(JsonFormatter().format(record("worker started: {not json")))
    assert entry["message"] == "worker started: {not json"
