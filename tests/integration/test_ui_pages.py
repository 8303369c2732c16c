"""The web UI's pages without a browser: aiohttp's test client on the UI application,
calling a real in-process server; and `start-dev`'s --ui-port/--headless."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from temporalio.client import Client

from pytemporal.common.health import Health, State
from pytemporal.common.tls import ServerTLS, TLSConfig
from pytemporal.testing import InProcessServer, make_config
from pytemporal.web.channel import frontend_channel
from pytemporal.web.ui import create_app
from pytemporal.web.ui.backend import Frontend

from .certs import CA
from .harness import REFERENCE, ServerProcess, free_port, running_worker, unique, wait_for
from .ui_scenario import ACTIVITIES, WORKFLOWS, UIApproval


@pytest.fixture(scope="module")
async def target() -> AsyncIterator[str]:
    server = InProcessServer(make_config())
    yield await server.astart()
    await server.astop()


@pytest.fixture
async def ui(
    target: str,
) -> AsyncIterator[TestClient[aiohttp.web.Request, aiohttp.web.Application]]:
    health = Health()
    health.set(State.SERVING)
    frontend = Frontend(frontend_channel(target, None))
    async with TestClient(TestServer(create_app(frontend, health))) as client:
        yield client
    await frontend.close()


Client_ = TestClient[aiohttp.web.Request, aiohttp.web.Application]


async def test_health_and_root(ui: Client_) -> None:
    response = await ui.get("/health")
    assert response.status == 200 and (await response.json())["status"] == "SERVING"
    response = await ui.get("/", allow_redirects=False)
    assert response.headers["Location"] == "/namespaces/default/workflows"


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/no/such/page", 404, "No page at /no/such/page"),
        (
            "/namespaces/default/workflows/missing/0b8a1c2e-0000-4000-8000-000000000000",
            404,
            "not found",
        ),
        ("/namespaces/no-such-namespace/workflows", 404, "no-such-namespace"),
        ("/namespaces/default/workflows?query=WorkflowId%20%3D", 400, "Invalid query"),
        ("/namespaces/default/workflows?status=Sleeping", 400, "Unknown status"),
        ("/namespaces/default/workflows?next=%25%25", 400, "damaged"),
        ("/namespaces/default/schedules/none", 404, "Not found"),
    ],
)
async def test_error_pages_say_what_went_wrong(
    ui: Client_, path: str, status: int, text: str
) -> None:
    response = await ui.get(path)
    body = await response.text()
    assert response.status == status, body
    assert text.lower() in body.lower()
    assert "Traceback" not in body and 'File "' not in body


async def test_workflow_ids_with_slashes_and_spaces(ui: Client_, target: str) -> None:
    client = await Client.connect(target)
    task_queue = unique("ui-pages")
    workflow_id = f"orders/2026 #{unique('x')}"
    async with running_worker(client, task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
        handle = await client.start_workflow(
            UIApproval.run, {"id": "S-1"}, id=workflow_id, task_queue=task_queue
        )
        response = await ui.get(f"/namespaces/default/workflows/{quote(workflow_id, safe='')}")
        assert response.status == 200, await response.text()
        body = await response.text()
        assert workflow_id.replace("#", "&#35;") in body or workflow_id in body
        assert handle.result_run_id is not None and handle.result_run_id in str(response.url)
        # A signal whose input is not JSON is refused on the confirmation page.
        url = f"{response.url.raw_path}/signal"
        form = {"name": "approve", "input": "{not json", "reason": "test"}
        refused = await ui.post(url, data=form)
        assert refused.status == 400 and "not JSON" in await refused.text()
        # A reason is required.
        refused = await ui.post(url, data={"name": "approve", "input": '"bob"'})
        assert refused.status == 400 and "Give a reason" in await refused.text()
        done = await ui.post(
            url, data={"name": "approve", "input": '"bob"', "reason": "ok"}, allow_redirects=False
        )
        assert done.status == 303 and done.headers["Location"].endswith("?done=signal")
        assert await handle.result() == "order S-1 approved by bob"


async def test_a_post_from_another_site_is_refused(ui: Client_) -> None:
    response = await ui.post(
        "/namespaces/default/workflows/x/0b8a1c2e-0000-4000-8000-000000000000/terminate",
        data={"reason": "csrf"},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status == 403 and "another site" in await response.text()


async def test_token_cookie(ui: Client_) -> None:
    empty = await ui.post("/login", data={"token": " ", "next": "/"})
    assert empty.status == 400
    response = await ui.post(
        "/login", data={"token": "Bearer abc.def", "next": "//evil.example/"}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "pytemporal-token=abc.def" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    out = await ui.post("/logout", allow_redirects=False)
    assert out.status == 303 and 'pytemporal-token=""' in out.headers["Set-Cookie"]


def start_dev(*flags: str, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pytemporal", "server", "start-dev", *flags]
    return subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL)


async def test_start_dev_serves_the_ui_unless_headless() -> None:
    port, ui_port = str(free_port()), free_port()
    process = start_dev("--port", port, "--ui-port", str(ui_port))
    try:
        async with aiohttp.ClientSession() as session:

            async def serving() -> bool:
                try:
                    async with session.get(f"http://127.0.0.1:{ui_port}/health") as r:
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for(serving, within=30, message="the UI's /health")
            async with session.get(f"http://127.0.0.1:{ui_port}/namespaces") as r:
                assert r.status == 200 and "default" in await r.text()
    finally:
        process.terminate()
        process.wait(timeout=10)
    headless = start_dev(
        "--port", port, "--headless", "--ui-port", str(ui_port), stdout=subprocess.PIPE
    )
    try:
        assert headless.stdout is not None
        line = await asyncio.to_thread(headless.stdout.readline)
        assert b"listening" in line
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as session:
                await session.get(f"http://127.0.0.1:{ui_port}/health")
    finally:
        headless.terminate()
        headless.wait(timeout=10)
        if headless.stdout is not None:
            headless.stdout.close()


@pytest.mark.reference
async def test_pages_read_temporals_own_replies() -> None:
    """The UI is a plain client of the API: pointed at Temporal's Go dev server, its pages
    read Temporal's replies, including the pollers of DescribeTaskQueue."""
    reference = ServerProcess(REFERENCE)
    client = await reference.start()
    health = Health()
    health.set(State.SERVING)
    frontend = Frontend(frontend_channel(reference.target, None))
    task_queue = unique("ui-ref")
    try:
        async with (
            TestClient(TestServer(create_app(frontend, health))) as ui,
            running_worker(client, task_queue, workflows=WORKFLOWS, activities=ACTIVITIES),
        ):
            handle = await client.start_workflow(
                UIApproval.run, {"id": "R-1"}, id=unique("ref"), task_queue=task_queue
            )

            async def polled() -> bool:
                page = await ui.get(f"/namespaces/default/task-queues/{task_queue}")
                body = await page.text()
                return (
                    page.status == 200
                    and "<td>Workflow</td>" in body
                    and "<td>Activity</td>" in body
                )

            await wait_for(polled, within=20, message="pollers listed")
            page = await ui.get(f"/namespaces/default/workflows/{handle.id}")
            body = await page.text()
            assert page.status == 200 and "WorkflowExecutionStarted" in body, body
            listed = await ui.get(
                f"/namespaces/default/workflows?query=WorkflowId%3D%27{handle.id}%27"
            )
            assert handle.id in await listed.text()
            assert (await ui.get("/namespaces/default/search-attributes")).status == 200
            await handle.terminate("done")
    finally:
        await frontend.close()
        reference.terminate()


async def test_a_tls_frontend_serves_the_ui_through_its_private_socket(tmp_path: Path) -> None:
    """With frontend TLS (here mutual: the UI holds no client certificate), the UI
    calls the gRPC server through the private Unix socket (web/channel.py)."""
    ca, client_ca = CA(), CA("client CA")
    cert, key = ca.issue("localhost").write(tmp_path, "frontend")
    frontend = ServerTLS(
        cert_file=str(cert),
        key_file=str(key),
        client_ca_files=[str(client_ca.write(tmp_path, "client-ca"))],
        require_client_auth=True,
    )
    ui_port = free_port()
    config = make_config(headless=False, ui_port=ui_port, tls=TLSConfig(frontend=frontend))
    async with InProcessServer(config, own_thread=False), aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{ui_port}/health") as health:
            assert health.status == 200
        async with session.get(f"http://127.0.0.1:{ui_port}/namespaces") as page:
            assert page.status == 200
            assert "default" in await page.text()
