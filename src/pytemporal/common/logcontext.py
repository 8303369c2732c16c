"""The workflow a log line concerns, attached to every line logged while handling it.

The frontend (``frontend/errors.handled``) and history (the engine's run lock, the timer
and transfer queues) push what they work on -- the request, the run key -- for the
task they run in; :class:`WorkflowTagsFilter` turns that into tags on each record, so
``json`` output has them as fields and ``pretty``/``text`` append them. The names are
Temporal's log tags (``common/log/tag/tags.go``): ``wf-namespace``,
``wf-namespace-id``, ``wf-id``, ``wf-run-id``.

Tags are computed only when a line is logged: on the hot path (every call, every run
lock) a push is one context-variable set, so tagging costs next to nothing while the
log is quiet.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any

NAMESPACE = "wf-namespace"
NAMESPACE_ID = "wf-namespace-id"
WORKFLOW_ID = "wf-id"
RUN_ID = "wf-run-id"

# What the current task works on, innermost last: requests (protobuf messages), run
# keys (namespace id, workflow id, run id) and tag dicts.
_sources: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar(
    "pytemporal_log_sources", default=()
)
Token = contextvars.Token


def push(source: Any) -> Token[tuple[Any, ...]]:
    """Add `source` (a request, a run key or a dict of tags) until :func:`pop`."""
    return _sources.set((*_sources.get(), source))


def pop(token: Token[tuple[Any, ...]]) -> None:
    _sources.reset(token)


class _Pushed:
    """``with``: push on entry, pop on exit (a class: cheaper than a generator)."""

    __slots__ = ("_source", "_token")

    def __init__(self, source: Any) -> None:
        self._source = source

    def __enter__(self) -> None:
        self._token = push(self._source)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pop(self._token)


def tagged(**tags: str) -> _Pushed:
    """Add the non-empty `tags` (keyword names use ``_`` for ``-``) for the block."""
    return _Pushed({k.replace("_", "-"): v for k, v in tags.items() if v})


def run_tags(key: tuple[str, str, str]) -> _Pushed:
    """Tag the block with a history run key (namespace id, workflow id, run id)."""
    return _Pushed(key)


def request_tagged(request: Any) -> _Pushed:
    """Tag the block with what a public request names."""
    return _Pushed(request)


def current() -> dict[str, str]:
    """The tags of the current task (later sources win)."""
    tags: dict[str, str] = {}
    for source in _sources.get():
        tags.update(_tags_of(source))
    return tags


def _tags_of(source: Any) -> Mapping[str, str]:
    if isinstance(source, dict):
        return source
    if isinstance(source, tuple):
        namespace_id, workflow_id, run_id = source
        return _non_empty({NAMESPACE_ID: namespace_id, WORKFLOW_ID: workflow_id, RUN_ID: run_id})
    return request_tags(source)


def _non_empty(tags: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if isinstance(v, str) and v}


def _execution(request: Any) -> Any:
    for field in ("workflow_execution", "execution"):
        value = getattr(request, field, None)
        if value is not None and hasattr(value, "workflow_id"):
            return value
    return None


def request_tags(request: Any) -> dict[str, str]:
    """The namespace, workflow id and run id a public request names, if any."""
    workflow_id = getattr(request, "workflow_id", None)
    run_id = getattr(request, "run_id", None)
    execution = _execution(request)
    if execution is not None:
        workflow_id, run_id = execution.workflow_id, execution.run_id
    return _non_empty(
        {
            NAMESPACE: getattr(request, "namespace", None),
            WORKFLOW_ID: workflow_id,
            RUN_ID: run_id,
        }
    )


class WorkflowTagsFilter(logging.Filter):
    """Copies the current workflow tags onto a record (``extra=`` given on the call
    wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _sources.get():
            for name, value in current().items():
                if name not in record.__dict__:
                    record.__dict__[name] = value
        return True
