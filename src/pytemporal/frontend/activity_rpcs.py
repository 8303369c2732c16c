"""PauseActivity, UnpauseActivity, ResetActivity, UpdateActivityOptions: a mixin of
`WorkflowService`. Validate as Temporal's frontend does, then one call into history's
`ActivityControl`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
