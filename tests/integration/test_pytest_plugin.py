"""The pytest plugin (pytemporal.testing.pytest_plugin), run by pytest itself.

Each inner run is a subprocess (`runpytest_subprocess`): it starts server threads and
event loops of its own, which must not mix with this process's."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PLUGIN = "pytemporal.testing.pytest_plugin"
ROOT = Path(__file__).resolve().parents[2]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = {fixture_loop}
asyncio_default_test_loop_scope = {test_loop}
filterwarnings = error
"""

TESTS = """
import threading
import grpc
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest, service_pb2_grpc
from temporalio.client import Client

SEEN = []


def info(target):
    with grpc.insecure_channel(target) as channel:
        stub = service_pb2_grpc.WorkflowServiceStub(channel)
        return stub.GetSystemInfo(GetSystemInfoRequest(), timeout=10).server_version


def test_sync_test_gets_the_server(temporal_server):
    SEEN.append(temporal_server)
    assert info(temporal_server).startswith("pytemporal")


async def test_client_on_the_same_server(temporal_client, temporal_server):
    SEEN.append(temporal_server)
    assert isinstance(temporal_client, Client)
    assert temporal_client.namespace == "default"
    response = await temporal_client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert response.server_version.startswith("pytemporal")


def test_fresh_server_is_another(temporal_fresh_server, temporal_server):
    assert temporal_fresh_server != temporal_server
    assert info(temporal_fresh_server).startswith("pytemporal")


def test_scope(pytestconfig):
    distinct = len(set(SEEN))
    expected = 1 if pytestconfig.getini("temporal_server_scope") == "session" else 2
    assert distinct == expected, SEEN
"""


def run_inner(
    pytester: pytest.Pytester,
    *args: str,
    fixture_loop: str = "function",
    test_loop: str = "function",
) -> pytest.RunResult:
    pytester.makefile(".ini", pytest=INI.format(fixture_loop=fixture_loop, test_loop=test_loop))
    return pytester.runpytest_subprocess("-p", PLUGIN, "-p", "no:cacheprovider", *args)


@pytest.mark.parametrize(
    ("fixture_loop", "test_loop"),
    [("function", "function"), ("session", "session"), ("session", "function")],
)
def test_fixtures_under_any_loop_scope(
    pytester: pytest.Pytester, fixture_loop: str, test_loop: str
) -> None:
    pytester.makepyfile(test_uses_fixtures=TESTS)
    result = run_inner(pytester, fixture_loop=fixture_loop, test_loop=test_loop)
    result.assert_outcomes(passed=4)


def test_server_scope_from_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_uses_fixtures=TESTS)
    result = run_inner(pytester, "-o", "temporal_server_scope=function")
    result.assert_outcomes(passed=4)


def test_bad_server_scope_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_uses_fixtures=TESTS)
    result = run_inner(pytester, "-o", "temporal_server_scope=forever")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*temporal_server_scope must be one of*forever*"])


def test_server_options_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest

@pytest.fixture(scope="session")
def temporal_server_options():
    return {"namespaces": ["orders"]}
"""
    )
    pytester.makepyfile(
        test_options="""
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

async def test_namespace(temporal_server):
    client = await Client.connect(temporal_server, namespace="orders")
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="orders")
    )
    assert described.namespace_info.name == "orders"
"""
    )
    run_inner(pytester).assert_outcomes(passed=1)


def test_unused_plugin_imports_neither_server_nor_sdk() -> None:
    # Loaded into every pytest run once installed: it must cost (almost) nothing.
    code = (
        f"import sys, {PLUGIN}; "
        "print(sorted(m for m in sys.modules if m.startswith(('pytemporal.server', 'temporalio', "
        "'grpc'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "[]"


def test_entry_point_names_the_plugin_module() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["pytest11"]
    # Named after the module, so `-p pytemporal.testing.pytest_plugin` (or
    # pytest_plugins = [...]) is a no-op rather than a double registration.
    assert entry_points == {PLUGIN: PLUGIN}


def test_examples_pass() -> None:
    # examples/testing is its own pytest project (pytest.ini); CI runs it through here.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", "-q"],
        cwd=ROOT / "examples" / "testing",
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout, result.stdout
