"""Fixtures of the persistence contract suite: every test runs once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pytemporal.persistence.api import Store

from .backends import BACKENDS, Backend


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = await backend.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def durable(backend: Backend) -> Backend:
    """The backend, for tests that close and reopen a database."""
    if not backend.durable:
        pytest.skip(f"{backend.id} keeps nothing once closed")
    return backend
