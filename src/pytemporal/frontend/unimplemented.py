"""UNIMPLEMENTED, in one line, for every RPC a servicer does not override.

The generated servicer bases set UNIMPLEMENTED and then raise ``NotImplementedError``,
which grpc's aio server logs with a full traceback at ERROR for each call (36 such calls
once made 433 lines of log). Here each such method answers
``Method WorkflowService/PauseActivity is not implemented`` and logs that one line.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from pytemporal.common import logcontext

log = logging.getLogger(__name__)


def message(service: str, method: str) -> str:
    return f"Method {service}/{method} is not implemented"


def _unimplemented(service: str, method: str) -> Any:
    text = message(service, method)

    async def answer(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        with logcontext.request_tagged(request):
            log.warning("%s", text, extra={"grpc-method": f"{service}/{method}"})
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, text)

    return answer


def fill(servicer: object, base: type, service: str) -> list[str]:
    """Give `servicer` (an instance of a subclass of the generated `base`) a one-line
    UNIMPLEMENTED answer for each method it does not override, as instance attributes:
    the class stays as written, so what it overrides can still be told from the base.
    Returns the names filled in."""
    filled = []
    for name in dir(base):
        if not name[:1].isupper() or not callable(getattr(base, name)):
            continue
        if getattr(type(servicer), name) is getattr(base, name):
            setattr(servicer, name, _unimplemented(service, name))
            filled.append(name)
    return filled
