"""The gateway's logs: one JSON object a line on stderr, each tagged with the request it belongs to.

A line is ``{"ts", "level", "logger", "msg", "request_id"}``, plus ``exc``
(the formatted traceback, as one string) for an exception and whatever a
caller passes as ``extra={"fields": {...}}``. One object a line, so that a
log shipper never has to guess where a record ends, whatever a message or
a traceback holds.

``REQUEST_ID`` is the id of the request being served (``None`` outside a
request). It is a context variable: a request's task sets it, and the
threads that run its use cases see it through ``asyncio.to_thread``, which
copies the context (``run_in_executor`` alone would not).

What is logged is what the code writes: no record carries a request's
headers, cookies or body, so no secret reaches the log by way of one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")  # short, plain ASCII, nothing to escape or hide in
_CORE = ("ts", "level", "logger", "msg", "request_id", "exc")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(sent: str | None) -> str:
    """The id a client sent (``X-Request-Id``) if it is short and plain, so that its logs and ours meet; else one of ours."""
    if sent is not None and _CLIENT_ID.fullmatch(sent):
        return sent
    return new_request_id()


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line (``json.dumps`` escapes every line break and every non-ASCII character)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: keep the record rather than lose it
            message = f"{record.msg} (its arguments did not format)"
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": message,
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update((key, value) for key, value in fields.items() if key not in _CORE)
        return json.dumps(line, default=str)


class _RequestIdFilter(logging.Filter):
    """Tags each record with the request id of the code that wrote it (the filter runs in that code's thread and context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a test runner swaps it), as ``logging.lastResort`` does."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure(level: int = logging.INFO) -> None:
    """Send every record of ``level`` and above to stderr as JSON lines; once a process (again after a fork, harmlessly).

    Warnings and exceptions nobody caught, in any thread, become records
    too, so that nothing else writes a line of its own shape to stderr.
    Alembic's news of which database it found, at each schema check, is
    left out below a warning.
    """
    root = logging.getLogger()
    for handler in [handler for handler in root.handlers if isinstance(handler, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    logging.getLogger("gateway").critical("an exception nobody caught", exc_info=(kind, error, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    logging.getLogger("gateway").error("an exception nobody caught in the thread %s", name, exc_info=exc_info)
