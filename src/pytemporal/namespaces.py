"""Namespace registry: the store's namespaces, cached by name and id."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from pytemporal.common.errors import NamespaceAlreadyExists, NamespaceNotFound
from pytemporal.persistence.api import NamespaceRecord, Store

DEFAULT_RETENTION_DAYS = 1

# A namespace's schedules, standalone activities and worker deployments are hidden rows
# of `executions` under its id plus these suffixes (scheduler/keys.py,
# history/workflow/standalone.py, deployments/registry.py), so that workflow
# visibility never sees them.
SCHEDULES_SUFFIX = "/schedules"
ACTIVITIES_SUFFIX = "/activities"
DEPLOYMENTS_SUFFIX = "/deployments"


def hidden_namespace_ids(namespace_id: str) -> list[str]:
    """Every namespace id a namespace's rows are stored under."""
    return [
        namespace_id,
        namespace_id + SCHEDULES_SUFFIX,
        namespace_id + ACTIVITIES_SUFFIX,
        namespace_id + DEPLOYMENTS_SUFFIX,
    ]


# Predefined attributes workflows and the server may set without registering them.
PREDEFINED_SEARCH_ATTRIBUTES = {
    "TemporalChangeVersion": "KeywordList",
    "BinaryChecksums": "KeywordList",
    "BuildIds": "KeywordList",
    "BatcherNamespace": "Keyword",
    "BatcherUser": "Keyword",
    "TemporalScheduledStartTime": "Datetime",
    "TemporalScheduledById": "Keyword",
    "TemporalSchedulePaused": "Bool",
    "TemporalNamespaceDivision": "Keyword",
}


# temporal.api.enums.v1.NamespaceState
REGISTERED = 1
DEPRECATED = 2
DELETED = 3


@dataclass
class Namespace:
    id: str
    name: str
    description: str = ""
    owner_email: str = ""
    retention_seconds: float = DEFAULT_RETENTION_DAYS * 86400
    search_attributes: dict[str, str] = field(default_factory=dict)
    # NamespaceInfo.data: the operator's own key-value pairs.
    data: dict[str, str] = field(default_factory=dict)
    state: int = REGISTERED
    # checksum -> {"reason", "operator", "create_time"} (unix seconds)
    bad_binaries: dict[str, dict[str, object]] = field(default_factory=dict)
    custom_search_attribute_aliases: dict[str, str] = field(default_factory=dict)
    # A deleted namespace's data is removed from this time on (unix seconds).
    delete_at: float = 0.0

    def unknown_search_attribute(self, names: object) -> str | None:
        """The first of `names` that is neither registered nor predefined."""
        for name in names:  # type: ignore[attr-defined]
            if name not in self.search_attributes and name not in PREDEFINED_SEARCH_ATTRIBUTES:
                return str(name)
        return None

    def search_attribute_type(self, name: str) -> str | None:
        return self.search_attributes.get(name) or PREDEFINED_SEARCH_ATTRIBUTES.get(name)

    def no_mapping(self, attribute: str) -> str:
        return f"Namespace {self.name} has no mapping defined for search attribute {attribute}"

    def record(self) -> NamespaceRecord:
        data = {
            "description": self.description,
            "owner_email": self.owner_email,
            "retention_seconds": self.retention_seconds,
            "search_attributes": self.search_attributes,
            "data": self.data,
            "state": self.state,
            "bad_binaries": self.bad_binaries,
            "custom_search_attribute_aliases": self.custom_search_attribute_aliases,
            "delete_at": self.delete_at,
        }
        return NamespaceRecord(self.id, self.name, json.dumps(data))

    @classmethod
    def from_record(cls, r: NamespaceRecord) -> Namespace:
        d = json.loads(r.data)
        return cls(
            id=r.id,
            name=r.name,
            description=d.get("description", ""),
            owner_email=d.get("owner_email", ""),
            retention_seconds=d.get("retention_seconds", DEFAULT_RETENTION_DAYS * 86400),
            search_attributes=d.get("search_attributes", {}),
            data=d.get("data", {}),
            state=d.get("state", REGISTERED),
            bad_binaries=d.get("bad_binaries", {}),
            custom_search_attribute_aliases=d.get("custom_search_attribute_aliases", {}),
            delete_at=d.get("delete_at", 0.0),
        )


class NamespaceRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_name: dict[str, Namespace] = {}
        self._by_id: dict[str, Namespace] = {}

    async def load(self) -> None:
        for r in await self.store.list_namespaces():
            self._remember(Namespace.from_record(r))

    def _remember(self, ns: Namespace) -> None:
        self._by_name[ns.name] = ns
        self._by_id[ns.id] = ns

    async def ensure(self, name: str, **kwargs: object) -> Namespace:
        if name in self._by_name:
            return self._by_name[name]
        try:
            return await self.create(name, **kwargs)
        except NamespaceAlreadyExists:
            # Another process sharing the database created it first.
            await self.load()
            return self.get(name)

    async def create(self, name: str, **kwargs: object) -> Namespace:
        ns = Namespace(id=str(uuid.uuid4()), name=name, **kwargs)  # type: ignore[arg-type]
        await self.store.create_namespace(ns.record())
        self._remember(ns)
        return ns

    async def update(self, ns: Namespace) -> None:
        old = self._by_id.get(ns.id)
        await self.store.update_namespace(ns.record())
        if old is not None and old.name != ns.name and self._by_name.get(old.name) is old:
            del self._by_name[old.name]  # renamed (a deleted namespace)
        self._remember(ns)

    async def remove(self, ns: Namespace) -> None:
        """Forget a namespace whose data is gone, and delete its record."""
        await self.store.delete_namespace(ns.id)
        if self._by_name.get(ns.name) is ns:
            del self._by_name[ns.name]
        self._by_id.pop(ns.id, None)

    def get(self, name: str) -> Namespace:
        ns = self._by_name.get(name)
        if ns is None:
            raise NamespaceNotFound(name)
        return ns

    def exists(self, name: str) -> bool:
        return name in self._by_name

    def by_id(self, namespace_id: str) -> Namespace:
        ns = self._by_id.get(namespace_id)
        if ns is None:
            raise NamespaceNotFound(namespace_id)
        return ns

    def all(self) -> list[Namespace]:
        return sorted(self._by_name.values(), key=lambda n: n.name)
