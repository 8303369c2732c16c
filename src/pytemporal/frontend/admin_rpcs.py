"""The administrative workflow RPCs of WorkflowService: reverse history, deletion,
execution options. A mixin of `WorkflowService`, which provides `namespaces`, `_key`
and `admin` (history's `WorkflowAdmin`)."""

from __future__ import annotations

from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflow.v1 import WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument, Unimplemented
from pytemporal.frontend import validation
from pytemporal.frontend.errors import handled
from pytemporal.history.public import Key
from pytemporal.history.public_admin import WorkflowAdmin
from pytemporal.namespaces import Namespace, NamespaceRegistry

EXECUTION_NOT_SET = "Execution is not set on request."


def _invalid_mask_path(mask: FieldMask) -> str | None:
    """The first path not naming a field of WorkflowExecutionOptions (proto names),
    which Temporal's fieldmaskpb.New refuses."""
    for path in mask.paths:
        if not FieldMask(paths=[path]).IsValidForDescriptor(WorkflowExecutionOptions.DESCRIPTOR):
            return path
    return None


class WorkflowAdminRpcs:
    namespaces: NamespaceRegistry
    admin: WorkflowAdmin | None

    async def _key(self, ns: Namespace, execution: WorkflowExecution) -> Key:
        raise NotImplementedError  # WorkflowService's

    def _admin(self) -> WorkflowAdmin:
        if self.admin is None:
            raise Unimplemented("this server does not serve workflow administration")
        return self.admin

    @handled
    async def GetWorkflowExecutionHistoryReverse(
        self, request: Any, context: Any
    ) -> rr.GetWorkflowExecutionHistoryReverseResponse:
        ns = self.namespaces.get(request.namespace)
        if not request.HasField("execution"):
            raise InvalidArgument(EXECUTION_NOT_SET)
        key = await self._key(ns, request.execution)
        return await self._admin().get_history_reverse(key, request)

    @handled
    async def DeleteWorkflowExecution(
        self, request: Any, context: Any
    ) -> rr.DeleteWorkflowExecutionResponse:
        if not request.HasField("workflow_execution"):
            raise InvalidArgument(EXECUTION_NOT_SET)
        ns = self.namespaces.get(request.namespace)
        key = await self._key(ns, request.workflow_execution)
        await self._admin().delete(key)
        return rr.DeleteWorkflowExecutionResponse()

    @handled
    async def UpdateWorkflowExecutionOptions(
        self, request: Any, context: Any
    ) -> rr.UpdateWorkflowExecutionOptionsResponse:
        validation.require(request.workflow_execution.workflow_id, "WorkflowId")
        if not request.HasField("update_mask"):
            raise InvalidArgument("UpdateMask is required")
        if not request.HasField("workflow_execution_options"):
            raise InvalidArgument("WorkflowExecutionOptions is required")
        bad = _invalid_mask_path(request.update_mask)
        if bad is not None:
            raise InvalidArgument(
                f'error parsing UpdateMask: proto: invalid path "{bad}" for message'
                ' "temporal.api.workflow.v1.WorkflowExecutionOptions"'
            )
        ns = self.namespaces.get(request.namespace)
        key = await self._key(ns, request.workflow_execution)
        return await self._admin().update_options(key, request)
