"""JSON logs on stderr. Messages are static strings; structured fields carry ids and counts, never
personal data, chat text or network addresses (a guard test plants canaries and greps the output)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, ClassVar

from aiohttp.http_exceptions import HttpProcessingError

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is emitted as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra=`` fields are kept, exception text is reduced to its type."""

    allowed_types: ClassVar[tuple[type, ...]] = (str, int, float, bool, type(None))

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.msg if isinstance(record.msg, str) else type(record.msg).__name__,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, self.allowed_types) else repr(type(value).__name__)
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages from libraries can carry input (SDP, paths, text).
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Route every logger, including aiohttp's and aiortc's, through the JSON formatter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log writes client addresses and full paths (join tokens): keep it off.
    logging.getLogger("aiohttp.access").disabled = True  # replaced by web.access_log (route patterns only)
    for noisy in ("aioice", "aiortc", "aiosqlite", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class ClientErrorFilter(logging.Filter):
    """aiohttp logs a malformed request (a request line over its limit, a broken header) at ERROR with the
    start of the request line, which may hold a join token. It is the client's error and already answered 400:
    keep it as a static INFO line with no content."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            record.msg, record.args, record.exc_info, record.exc_text = "malformed request refused", (), None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install_client_error_filter() -> None:
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorFilter) for f in server.filters):
        server.addFilter(ClientErrorFilter())
