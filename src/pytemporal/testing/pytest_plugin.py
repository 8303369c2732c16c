"""pytest fixtures for testing Temporal code against an in-process pytemporal server.

Loaded automatically once pytemporal is installed (the ``pytest11`` entry point of the
same name); otherwise ``-p pytemporal.testing.pytest_plugin``. Nothing here is
autouse and nothing starts until a test asks for a fixture, so a suite that does not
use them pays only for importing this module (no server, no SDK import).

Fixtures:

``temporal_server``
    The ``host:port`` of a server on in-memory SQLite. Session-scoped by default; the
    ini option ``temporal_server_scope`` (``session``, ``package``, ``module``,
    ``class`` or ``function``) changes that.
``temporal_fresh_server``
    A server of its own for one test (start and stop take milliseconds).
``temporal_server_options``
    Session-scoped, ``{}``: override it to pass options of
    :func:`pytemporal.testing.make_config` (``namespaces``, ``search_attributes``,
    ``dynamic_config``, ...) to both servers.
``temporal_client``
    A ``temporalio.client.Client`` connected to ``temporal_server`` (namespace
    ``default``), one per test. Needs pytest-asyncio.
``temporal_env``
    A time-skipping ``temporalio.testing.WorkflowEnvironment`` on a server of its own
    for one test (``temporal_server_options`` apply). Needs pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from pytemporal.testing.inprocess import InProcessServer, make_config

SCOPE_INI = "temporal_server_scope"
SCOPES = ("session", "package", "module", "class", "function")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        SCOPE_INI,
        f"scope of the temporal_server fixture: one of {', '.join(SCOPES)} (default session)",
        default="session",
    )


def _configured_scope(config: pytest.Config) -> str:
    return str(config.getini(SCOPE_INI) or "session").strip()


def pytest_configure(config: pytest.Config) -> None:
    scope = _configured_scope(config)
    if scope not in SCOPES:
        raise pytest.UsageError(f"{SCOPE_INI} must be one of {', '.join(SCOPES)}, got {scope!r}")


def _server_scope(fixture_name: str, config: pytest.Config) -> Any:
    # (Evaluated when the plugin registers; a bad value is reported by pytest_configure.)
    scope = _configured_scope(config)
    return scope if scope in SCOPES else "session"


def _run_server(options: dict[str, Any]) -> Iterator[str]:
    # Its own thread and loop: usable from tests on any event loop, or none.
    server = InProcessServer(make_config(**options))
    target = server.start()
    try:
        yield target
    finally:
        server.stop()


@pytest.fixture(scope="session")
def temporal_server_options() -> dict[str, Any]:
    """Options for the servers of ``temporal_server``/``temporal_fresh_server``."""
    return {}


@pytest.fixture(scope=_server_scope)
def temporal_server(temporal_server_options: dict[str, Any]) -> Iterator[str]:
    """Target address of an in-process pytemporal server (scope: ini
    ``temporal_server_scope``, session by default)."""
    yield from _run_server(temporal_server_options)


@pytest.fixture
def temporal_fresh_server(temporal_server_options: dict[str, Any]) -> Iterator[str]:
    """Target address of an in-process pytemporal server started for this test only."""
    yield from _run_server(temporal_server_options)


async def _connect(target: str) -> Any:
    from temporalio.client import Client

    return await Client.connect(target)


def _async_fixtures() -> tuple[Any, Any]:
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - exercised only without pytest-asyncio

        def needs_pytest_asyncio(name: str) -> Any:
            @pytest.fixture(name=name)
            def fixture() -> Any:
                raise pytest.UsageError(f"the {name} fixture needs pytest-asyncio installed")

            return fixture

        return needs_pytest_asyncio("temporal_client"), needs_pytest_asyncio("temporal_env")

    @pytest_asyncio.fixture(name="temporal_client")
    async def connected_client(temporal_server: str) -> AsyncIterator[Any]:
        """A temporalio Client connected to ``temporal_server`` (namespace default)."""
        yield await _connect(temporal_server)

    @pytest_asyncio.fixture(name="temporal_env")
    async def time_skipping_env(temporal_server_options: dict[str, Any]) -> AsyncIterator[Any]:
        """A time-skipping WorkflowEnvironment on a server of this test's own."""
        from pytemporal.testing.environment import start_time_skipping

        env = await start_time_skipping(**temporal_server_options)
        async with env:
            yield env

    return connected_client, time_skipping_env


temporal_client, temporal_env = _async_fixtures()
