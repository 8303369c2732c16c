"""The workflow a log line concerns, attached to every line logged while handling it.

The frontend (``frontend/errors.handled``) and history (the engine's run lock, the timer
and transfer queues) set the tags for the task they run in; :class:`WorkflowTagsFilter`
copies them onto each record, so ``json`` output has them as fields and ``pretty``/
``text`` append them. The names are Temporal's log tags (``common/log/tag/tags.go``):
``wf-namespace``, ``wf-namespace-id``, ``wf-id``, ``wf-run-id``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

NAMESPACE = "wf-namespace"
NAMESPACE_ID = "wf-namespace-id"
WORKFLOW_ID = "wf-id"
RUN_ID = "wf-run-id"

_tags: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "pytemporal_workflow_tags", default=MappingProxyType({})
)


def current() -> Mapping[str, str]:
    return _tags.get()


@contextlib.contextmanager
def _with(tags: Mapping[str, str]) -> Iterator[None]:
    if not tags:
        yield
        return
    token = _tags.set({**_tags.get(), **tags})
    try:
        yield
    finally:
        _tags.reset(token)


def tagged(**tags: str) -> contextlib.AbstractContextManager[None]:
    """Add the non-empty `tags` (keyword names use ``_`` for ``-``) for the block."""
    return _with({k.replace("_", "-"): v for k, v in tags.items() if v})


def run_tags(key: tuple[str, str, str]) -> contextlib.AbstractContextManager[None]:
    """The tags of a history run key (namespace id, workflow id, run id)."""
    namespace_id, workflow_id, run_id = key
    return tagged(wf_namespace_id=namespace_id, wf_id=workflow_id, wf_run_id=run_id)


def _execution(request: Any) -> Any:
    for field in ("workflow_execution", "execution"):
        value = getattr(request, field, None)
        if value is not None and hasattr(value, "workflow_id"):
            return value
    return None


def request_tags(request: Any) -> dict[str, str]:
    """The namespace, workflow id and run id a public request names, if any."""
    tags: dict[str, str] = {}
    namespace = getattr(request, "namespace", None)
    if isinstance(namespace, str) and namespace:
        tags[NAMESPACE] = namespace
    execution = _execution(request)
    workflow_id = getattr(request, "workflow_id", None)
    run_id = getattr(request, "run_id", None)
    if execution is not None:
        workflow_id, run_id = execution.workflow_id, execution.run_id
    if isinstance(workflow_id, str) and workflow_id:
        tags[WORKFLOW_ID] = workflow_id
    if isinstance(run_id, str) and run_id:
        tags[RUN_ID] = run_id
    return tags


def request_tagged(request: Any) -> contextlib.AbstractContextManager[None]:
    return _with(request_tags(request))


class WorkflowTagsFilter(logging.Filter):
    """Copies the current workflow tags onto a record (``extra=`` given on the call
    wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _tags.get().items():
            if name not in record.__dict__:
                record.__dict__[name] = value
        return True
