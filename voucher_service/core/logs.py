"""Structured logs: one JSON object per line, with the request id when there is one.

No secret goes into a log line: paths carry tokens (``/status/{token}``, ``/r/{token}``,
``/invitation/{token}``), so requests are logged by route template and a keyed
fingerprint of the path, never the path, query string, headers or cookies."""

import hashlib
import hmac
import json
import logging
from typing import Any

from voucher_service.core.context import request_id


def fingerprint_key(secret: str) -> bytes:
    """The key of path fingerprints, derived from the service's secret."""
    return hmac.new(secret.encode(), b"access-log-path", hashlib.sha256).digest()


def fingerprint(key: bytes, text: str) -> str:
    """A short keyed digest: the same path always gives the same print, so that the
    requests for one cheque can be followed, but no one can tell the path from it."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:16]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": request_id.get(),
        }
        message = record.getMessage()
        try:
            fields = json.loads(message) if message.startswith("{") else None
        except ValueError:
            fields = None
        entry.update(fields if isinstance(fields, dict) else {"message": message})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}
