"""PauseActivity, UnpauseActivity, ResetActivity, UpdateActivityOptions: a mixin of
`WorkflowService`. Validate as Temporal's frontend does, then one call into history's
`ActivityControl`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr

from pytemporal.common.errors import InvalidArgument, Unimplemented
from pytemporal.frontend import validation
from pytemporal.frontend.errors import handled

if TYPE_CHECKING:
    from pytemporal.history.public import ActivityControl, Key
    from pytemporal.namespaces import Namespace, NamespaceRegistry

_NO_ACTIVITY = "Either Activity.Id or Activity.Type should be set on request."


class ActivityRpcs:
    namespaces: NamespaceRegistry
    activities: ActivityControl | None

    if TYPE_CHECKING:

        async def _key(self, ns: Namespace, execution: Any) -> Key: ...

    def _control(self) -> ActivityControl:
        if self.activities is None:
            raise Unimplemented("activity control is not enabled on this server")
        return self.activities

    async def _target(self, request: Any) -> Key:
        """The run a request names; checked in Temporal's order: workflow id, which
        activity, then the namespace."""
        validation.require(request.execution.workflow_id, "WorkflowId")
        if request.WhichOneof("activity") is None:
            raise InvalidArgument(_NO_ACTIVITY)
        ns = self.namespaces.get(request.namespace)
        return await self._key(ns, request.execution)

    @handled
    async def PauseActivity(self, request: Any, context: Any) -> rr.PauseActivityResponse:
        key = await self._target(request)
        await self._control().pause_activity(key, request)
        return rr.PauseActivityResponse()

    @handled
    async def UnpauseActivity(self, request: Any, context: Any) -> rr.UnpauseActivityResponse:
        key = await self._target(request)
        await self._control().unpause_activity(key, request)
        return rr.UnpauseActivityResponse()

    @handled
    async def ResetActivity(self, request: Any, context: Any) -> rr.ResetActivityResponse:
        key = await self._target(request)
        await self._control().reset_activity(key, request)
        return rr.ResetActivityResponse()

    @handled
    async def UpdateActivityOptions(
        self, request: Any, context: Any
    ) -> rr.UpdateActivityOptionsResponse:
        key = await self._target(request)
        options = await self._control().update_activity_options(key, request)
        return rr.UpdateActivityOptionsResponse(activity_options=options)

    # -- the *ActivityExecution forms ------------------------------------------------
    # Temporal's CLI (`temporal activity pause -w ... -a ...`) sends these. With a
    # workflow id they name a workflow's activity and Temporal serves them as the four
    # calls above (`chasm/lib/activity/handler.go`); without one they name a
    # standalone activity, which this mixin does not serve.

    async def _execution_target(self, request: Any, method: str) -> Key:
        if not request.workflow_id:
            raise Unimplemented(f"{method} for a standalone activity is not implemented")
        if not request.activity_id:
            raise InvalidArgument("activity ID is required")
        if request.run_id:
            validation.run_id(request.run_id, "invalid run id: must be a valid UUID")
        ns = self.namespaces.get(request.namespace)
        return await self._key(
            ns, WorkflowExecution(workflow_id=request.workflow_id, run_id=request.run_id)
        )

    @staticmethod
    def _execution(request: Any) -> WorkflowExecution:
        return WorkflowExecution(workflow_id=request.workflow_id, run_id=request.run_id)

    @handled
    async def PauseActivityExecution(
        self, request: Any, context: Any
    ) -> rr.PauseActivityExecutionResponse:
        key = await self._execution_target(request, "PauseActivityExecution")
        await self._control().pause_activity(
            key,
            rr.PauseActivityRequest(
                namespace=request.namespace,
                execution=self._execution(request),
                id=request.activity_id,
                identity=request.identity,
                reason=request.reason,
                request_id=request.request_id,
            ),
        )
        return rr.PauseActivityExecutionResponse()

    @handled
    async def UnpauseActivityExecution(
        self, request: Any, context: Any
    ) -> rr.UnpauseActivityExecutionResponse:
        key = await self._execution_target(request, "UnpauseActivityExecution")
        await self._control().unpause_activity(
            key,
            rr.UnpauseActivityRequest(
                namespace=request.namespace,
                execution=self._execution(request),
                id=request.activity_id,
                identity=request.identity,
                jitter=request.jitter if request.HasField("jitter") else None,
            ),
        )
        return rr.UnpauseActivityExecutionResponse()

    @handled
    async def ResetActivityExecution(
        self, request: Any, context: Any
    ) -> rr.ResetActivityExecutionResponse:
        key = await self._execution_target(request, "ResetActivityExecution")
        await self._control().reset_activity(
            key,
            rr.ResetActivityRequest(
                namespace=request.namespace,
                execution=self._execution(request),
                id=request.activity_id,
                identity=request.identity,
                reset_heartbeat=request.reset_heartbeat,
                keep_paused=request.keep_paused,
                restore_original_options=request.restore_original_options,
                jitter=request.jitter if request.HasField("jitter") else None,
            ),
        )
        return rr.ResetActivityExecutionResponse()

    @handled
    async def UpdateActivityExecutionOptions(
        self, request: Any, context: Any
    ) -> rr.UpdateActivityExecutionOptionsResponse:
        key = await self._execution_target(request, "UpdateActivityExecutionOptions")
        if request.restore_original and request.update_mask.paths:
            raise InvalidArgument("Both UpdateMask and RestoreOriginal are provided")
        if not request.restore_original:
            if not request.HasField("activity_options"):
                raise InvalidArgument("ActivityOptions are not provided")
            if not request.update_mask.paths:
                raise InvalidArgument("UpdateMask must specify at least one path")
        options = await self._control().update_activity_options(
            key,
            rr.UpdateActivityOptionsRequest(
                namespace=request.namespace,
                execution=self._execution(request),
                id=request.activity_id,
                identity=request.identity,
                activity_options=request.activity_options
                if request.HasField("activity_options")
                else None,
                update_mask=request.update_mask if request.HasField("update_mask") else None,
                restore_original=request.restore_original,
            ),
        )
        return rr.UpdateActivityExecutionOptionsResponse(activity_options=options)
