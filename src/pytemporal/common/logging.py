"""Process-wide logging set-up from the dev server's ``--log-level``/``--log-format``.

Levels are Temporal's names (``debug``, ``info``, ``warn``, ``error``, ``never``; plus
``fatal``, which the temporalio SDK passes when its own logger is above ERROR). Formats:

* ``pretty`` -- human text: ``2026-01-02T03:04:05.678 WARN  pytemporal.history  msg``
* ``text``   -- logfmt, like Temporal's: ``time=... level=WARN logger=... msg="..."``
* ``json``   -- one JSON object per line

``extra={...}`` fields on a log call are appended (pretty, text) or included (json),
and so are the tags of the workflow a line concerns (``common/logcontext.py``:
``wf-namespace``, ``wf-id``, ``wf-run-id``, as Temporal names them).
Everything goes to stderr; stdout is left for the CLI's own messages.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import Any, TextIO

from pytemporal.common.logcontext import WorkflowTagsFilter

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal", "never")
LOG_FORMATS = ("pretty", "text", "json")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "never": logging.CRITICAL + 10,
}
_LEVEL_NAMES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "FATAL",
}
# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _level_name(record: logging.LogRecord) -> str:
    return _LEVEL_NAMES.get(record.levelno, record.levelname)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).isoformat(timespec="milliseconds")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


def _logfmt_value(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return json.dumps(text)
    return text


class PrettyFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {_level_name(record):<5} {record.name}  {record.getMessage()}"
        extras = " ".join(f"{k}={_logfmt_value(v)}" for k, v in _extras(record).items())
        if extras:
            line = f"{line}  {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "time": _timestamp(record),
            "level": _level_name(record),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "time": _timestamp(record),
            "level": _level_name(record),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str)


_FORMATTERS: dict[str, type[logging.Formatter]] = {
    "pretty": PrettyFormatter,
    "text": TextFormatter,
    "json": JsonFormatter,
}


class _OurHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so reconfiguring replaces it."""


def configure_logging(
    level: str = "warn", fmt: str = "pretty", stream: TextIO | None = None
) -> None:
    """Send all logging to ``stream`` (default stderr) at ``level`` in format ``fmt``.

    Idempotent: a second call replaces the handler the first one installed.
    """
    if level not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LOG_LEVELS)}")
    if fmt not in _FORMATTERS:
        raise ValueError(f"unknown log format {fmt!r}; expected one of {', '.join(LOG_FORMATS)}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _OurHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_FORMATTERS[fmt]())
    handler.addFilter(WorkflowTagsFilter())
    root.addHandler(handler)
    root.setLevel(_LEVELS[level])
