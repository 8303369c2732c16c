"""Fixtures of the persistence contract suite: every test runs once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pytemporal.persistence.api import Store

from .backends import BACKENDS, Backend


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "xfail_backends(*backend_ids, reason): strict xfail on the named backends only "
        "(a known bug of one backend must not hide a regression in the others)",
    )


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    known_bug = request.node.get_closest_marker("xfail_backends")
    if known_bug is not None and request.param in known_bug.args:
        request.applymarker(pytest.mark.xfail(strict=True, reason=known_bug.kwargs["reason"]))
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
