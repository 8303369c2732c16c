"""Namespace records: create, look up by name or id, list, update."""

from __future__ import annotations

import pytest

from pytemporal.common.errors import NamespaceAlreadyExists
from pytemporal.persistence.api import NamespaceRecord, Store


def record(name: str, data: str = "{}") -> NamespaceRecord:
    return NamespaceRecord(id=f"id-{name}", name=name, data=data)


async def test_create_then_get_by_name_and_by_id(store: Store) -> None:
    ns = record("orders", '{"retention": 86400}')
    await store.create_namespace(ns)
    assert await store.get_namespace(name="orders") == ns
    assert await store.get_namespace(id="id-orders") == ns


async def test_unknown_namespace_is_none(store: Store) -> None:
    await store.create_namespace(record("orders"))
    assert await store.get_namespace(name="billing") is None
    assert await store.get_namespace(id="id-billing") is None


async def test_list_returns_every_namespace(store: Store) -> None:
    assert await store.list_namespaces() == []
    created = [record("b"), record("a"), record("c")]
    for ns in created:
        await store.create_namespace(ns)
    listed = await store.list_namespaces()
    assert sorted(listed, key=lambda n: n.id) == sorted(created, key=lambda n: n.id)


async def test_duplicate_name_raises_and_keeps_the_first(store: Store) -> None:
    first = record("orders", '{"owner": "first"}')
    await store.create_namespace(first)
    with pytest.raises(NamespaceAlreadyExists):
        await store.create_namespace(NamespaceRecord("other-id", "orders", '{"owner": "x"}'))
    assert await store.list_namespaces() == [first]


async def test_update_replaces_data(store: Store) -> None:
    await store.create_namespace(record("orders", '{"v": 1}'))
    await store.update_namespace(record("orders", '{"v": 2}'))
    got = await store.get_namespace(id="id-orders")
    assert got is not None and got.data == '{"v": 2}'


async def test_update_can_rename(store: Store) -> None:
    await store.create_namespace(record("orders"))
    await store.update_namespace(NamespaceRecord("id-orders", "purchases", "{}"))
    assert await store.get_namespace(name="orders") is None
    assert await store.get_namespace(name="purchases") == NamespaceRecord(
        "id-orders", "purchases", "{}"
    )


async def test_rename_onto_a_taken_name_raises_namespace_already_exists(store: Store) -> None:
    await store.create_namespace(record("orders"))
    await store.create_namespace(record("billing"))
    with pytest.raises(NamespaceAlreadyExists):
        await store.update_namespace(NamespaceRecord("id-billing", "orders", "{}"))
