"""OperatorService: search-attribute registration and removal, namespace deletion."""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

import grpc
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import request_response_pb2 as rr
from temporalio.api.operatorservice.v1 import service_pb2_grpc

from pytemporal.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NamespaceNotFound,
    Unimplemented,
)
from pytemporal.common.protoutil import dur_seconds
from pytemporal.frontend import validation
from pytemporal.frontend.cluster_rpcs import ListClustersRpcs
from pytemporal.frontend.errors import handled
from pytemporal.namespaces import DELETED, Namespace, NamespaceRegistry
from pytemporal.visibility import attributes

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"

# What ListSearchAttributes calls system attributes, as Temporal lists them: the
# columns every record has and the predefined ones workflows and the server set.
SYSTEM_ATTRIBUTES = {**attributes.SYSTEM, **attributes.PREDEFINED}
RESERVED = {"NamespaceId", "Memo", "MemoEncoding", "VisibilityTaskKey"}


def _type_name(value: int) -> str:
    name = IndexedValueType.Name(value)[len("INDEXED_VALUE_TYPE_") :]  # type: ignore[arg-type]
    return "".join(p.capitalize() for p in name.split("_"))


def _type_value(name: str) -> int:
    upper = "".join("_" + c if c.isupper() and i else c for i, c in enumerate(name)).upper()
    return IndexedValueType.Value("INDEXED_VALUE_TYPE_" + upper)


_KNOWN_TYPES = frozenset(IndexedValueType.values())

# The generated base answers UNIMPLEMENTED for every RPC we do not override; its stubs
# type the methods as synchronous, so mypy sees it as Any.
_Base: Any = service_pb2_grpc.OperatorServiceServicer


SYSTEM_NAMESPACE = "temporal-system"


class NamespaceDeletion(Protocol):
    async def delete(self, ns: Namespace, delay: float) -> str:
        """Mark the namespace deleted; its data goes in the background. Its new name."""


class OperatorService(ListClustersRpcs, _Base):
    def __init__(
        self, namespaces: NamespaceRegistry, deletion: NamespaceDeletion | None = None
    ) -> None:
        self.namespaces = namespaces
        self.deletion = deletion

    @handled
    async def DeleteNamespace(self, request: Any, context: Ctx) -> rr.DeleteNamespaceResponse:
        if request.namespace_id:
            ns = self.namespaces.by_id(request.namespace_id)
        elif request.namespace:
            ns = self.namespaces.get(request.namespace)
        else:
            raise InvalidArgument("Namespace not set on request.")
        if ns.name == SYSTEM_NAMESPACE:
            raise FailedPrecondition("unable to delete system namespace")
        if ns.state == DELETED:
            raise NamespaceNotFound(ns.name)
        if self.deletion is None:
            raise Unimplemented("DeleteNamespace is not enabled on this server")
        delay = dur_seconds(request.namespace_delete_delay)
        if delay < 0:
            raise InvalidArgument("NamespaceDeleteDelay must not be negative.")
        name = await self.deletion.delete(ns, delay)
        return rr.DeleteNamespaceResponse(deleted_namespace=name)

    @handled
    async def ListSearchAttributes(
        self, request: Any, context: Ctx
    ) -> rr.ListSearchAttributesResponse:
        ns = self.namespaces.get(request.namespace or "default")
        return rr.ListSearchAttributesResponse(
            custom_attributes={k: _type_value(v) for k, v in ns.search_attributes.items()},  # type: ignore[misc]
            system_attributes={k: _type_value(v) for k, v in SYSTEM_ATTRIBUTES.items()},  # type: ignore[misc]
        )

    @handled
    async def AddSearchAttributes(
        self, request: Any, context: Ctx
    ) -> rr.AddSearchAttributesResponse:
        ns = self.namespaces.get(request.namespace or "default")
        for name, typ in request.search_attributes.items():
            if name in RESERVED or name in SYSTEM_ATTRIBUTES:
                raise InvalidArgument(f"Search attribute {name} is reserved by system.")
            if typ == IndexedValueType.INDEXED_VALUE_TYPE_UNSPECIFIED or typ not in _KNOWN_TYPES:
                raise InvalidArgument(f"Unknown search attribute type: {typ}.")
            ns.search_attributes.setdefault(name, _type_name(typ))
        await self.namespaces.update(ns)
        return rr.AddSearchAttributesResponse()

    @handled
    async def RemoveSearchAttributes(
        self, request: Any, context: Ctx
    ) -> rr.RemoveSearchAttributesResponse:
        validation.require(request.namespace, "Namespace")
        ns = self.namespaces.get(request.namespace)
        if not request.search_attributes:
            raise InvalidArgument("SearchAttributes are not set on request.")
        system = [n for n in request.search_attributes if n not in ns.search_attributes]
        system = [n for n in system if n in SYSTEM_ATTRIBUTES or n in RESERVED]
        if system:
            raise InvalidArgument(
                f"Unable to remove non-custom search attributes: {', '.join(system)}."
            )
        # As Temporal's SQL visibility: removing a name that is not registered is a
        # no-op. The values already stored stay in the rows, unreachable by queries.
        for name in request.search_attributes:
            ns.search_attributes.pop(name, None)
        await self.namespaces.update(ns)
        return rr.RemoveSearchAttributesResponse()
