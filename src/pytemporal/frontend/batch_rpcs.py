"""StartBatchOperation, StopBatchOperation, DescribeBatchOperation,
ListBatchOperations: a mixin of `WorkflowService` over the batch runner
(`batch/runner.py`). A job's calls are routed to the owner of its shard (by job id,
`routing.WORKFLOW_ROUTES`); the list reads the shared store from any process."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from temporalio.api.batch.v1 import BatchOperationInfo
from temporalio.api.common.v1 import Execution
from temporalio.api.enums.v1 import ExecutionType
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.batch import keys
from pytemporal.batch.state import BatchState, validate
from pytemporal.common.errors import InvalidArgument, Unimplemented
from pytemporal.common.protoutil import ts
from pytemporal.frontend import visibility_service
from pytemporal.frontend.errors import handled
from pytemporal.persistence.api import VisibilityCursor

if TYPE_CHECKING:
    from pytemporal.batch.runner import Batcher
    from pytemporal.frontend.visibility_service import VisibilityStore
    from pytemporal.namespaces import NamespaceRegistry

MAX_PAGE_SIZE = 1000  # Temporal's frontend.visibilityMaxPageSize


def _token(c: VisibilityCursor) -> bytes:
    return base64.b64encode(json.dumps([c.close_time, c.start_time, c.run_id]).encode())


def _cursor(token: bytes) -> VisibilityCursor:
    try:
        close_time, start_time, run_id = json.loads(base64.b64decode(token, validate=True))
        return VisibilityCursor(close_time, float(start_time), str(run_id))
    except (ValueError, TypeError) as e:
        raise InvalidArgument("invalid next page token") from e


def _describe(st: BatchState) -> rr.DescribeBatchOperationResponse:
    resp = rr.DescribeBatchOperationResponse(
        operation_type=st.operation_type,  # type: ignore[arg-type]
        job_id=st.job_id,
        state=st.state,  # type: ignore[arg-type]
        start_time=ts(st.start_time),
        total_operation_count=st.total,
        complete_operation_count=st.done,
        failure_operation_count=st.failed,
        identity=st.identity,
        reason=st.request.reason,
        query=st.request.visibility_query,
        executions=[
            Execution(
                type=ExecutionType.EXECUTION_TYPE_WORKFLOW,
                business_id=ex.workflow_id,
                run_id=ex.run_id,
            )
            for ex in st.request.executions
        ],
    )
    if st.close_time:
        resp.close_time.CopyFrom(ts(st.close_time))
    return resp


class BatchRpcs:
    namespaces: NamespaceRegistry
    visibility: VisibilityStore
    batcher: Batcher | None

    def _batcher(self) -> Batcher:
        if self.batcher is None:
            raise Unimplemented("batch operations are not enabled on this server")
        return self.batcher

    @handled
    async def StartBatchOperation(
        self, request: Any, context: Any
    ) -> rr.StartBatchOperationResponse:
        validate(request)
        ns = self.namespaces.get(request.namespace)
        if request.visibility_query:
            visibility_service.parse_filter(ns, request.visibility_query)
        await self._batcher().start(ns.id, request)
        return rr.StartBatchOperationResponse()

    @handled
    async def StopBatchOperation(self, request: Any, context: Any) -> rr.StopBatchOperationResponse:
        if not request.job_id:
            raise InvalidArgument("JobId is not set on request.")
        if not request.namespace:
            raise InvalidArgument("Namespace is not set on request.")
        if not request.reason:
            raise InvalidArgument("Reason is not set on request.")
        ns = self.namespaces.get(request.namespace)
        await self._batcher().stop(ns.id, request.job_id, request.reason)
        return rr.StopBatchOperationResponse()

    @handled
    async def DescribeBatchOperation(
        self, request: Any, context: Any
    ) -> rr.DescribeBatchOperationResponse:
        if not request.job_id:
            raise InvalidArgument("JobId is not set on request.")
        if not request.namespace:
            raise InvalidArgument("Namespace is not set on request.")
        ns = self.namespaces.get(request.namespace)
        return _describe(await self._batcher().get(ns.id, request.job_id))

    @handled
    async def ListBatchOperations(
        self, request: Any, context: Any
    ) -> rr.ListBatchOperationsResponse:
        if not request.namespace:
            raise InvalidArgument("Namespace is not set on request.")
        ns = self.namespaces.get(request.namespace)
        size = request.page_size if 0 < request.page_size <= MAX_PAGE_SIZE else MAX_PAGE_SIZE
        after = _cursor(request.next_page_token) if request.next_page_token else None
        rows = await self.visibility.list_executions(
            ns.id + keys.NAMESPACE_SUFFIX, None, page_size=size + 1, after=after
        )
        resp = rr.ListBatchOperationsResponse()
        for row in rows[:size]:
            st = BatchState.decode(row.state)
            info = BatchOperationInfo(
                job_id=st.job_id,
                state=st.state,  # type: ignore[arg-type]
                start_time=ts(st.start_time),
                operation_type=st.operation_type,  # type: ignore[arg-type]
            )
            if st.close_time:
                info.close_time.CopyFrom(ts(st.close_time))
            resp.operation_info.append(info)
        if len(rows) > size:
            resp.next_page_token = _token(rows[size - 1].cursor)
        return resp
