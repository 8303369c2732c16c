"""The web UI in a real browser: Playwright for Python driving Debian's Chromium headless
against a pytemporal server (in this process, on its own thread) whose workflows the
official SDK and a worker created.

With PYTEMPORAL_UI_SCREENSHOTS=DIR (scripts/ui_screenshots.py) the main pages are also
saved as PNG files in DIR (docs/ui/ in the repository).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.client import Client, WorkflowExecutionStatus

from jwtkeys import jwks
from pytemporal.testing import InProcessServer, make_config

from .harness import free_port, running_worker, unique, wait_for
from .test_authorization import AUDIENCE, RSA, AuthorizedServer
from .ui_scenario import ACTIVITIES, WORKFLOWS, Scenario, populate

CHROMIUM = os.environ.get("PYTEMPORAL_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.environ.get("PYTEMPORAL_UI_SCREENSHOTS", "")

# Skipped only when asked: CI (scripts/test) installs Chromium, and a missing browser
# must fail there rather than pass silently.
pytestmark = pytest.mark.skipif(
    os.environ.get("PYTEMPORAL_SKIP_BROWSER") == "1"
    and shutil.which(CHROMIUM) is None
    and not os.path.exists(CHROMIUM),
    reason=f"PYTEMPORAL_SKIP_BROWSER=1 and no Chromium at {CHROMIUM}",
)


@pytest.fixture(scope="module")
async def ui_server() -> AsyncIterator[tuple[str, str]]:
    """(gRPC target, UI base URL) of a server with the UI on."""
    port = free_port()
    server = InProcessServer(make_config(headless=False, ui_port=port))
    target = await server.astart()
    try:
        yield target, f"http://127.0.0.1:{port}"
    finally:
        await server.astop()


@pytest.fixture(scope="module")
async def scenario(ui_server: tuple[str, str]) -> AsyncIterator[tuple[Client, Scenario]]:
    client = await Client.connect(ui_server[0])
    task_queue = unique("ui")
    async with running_worker(client, task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
        yield client, await populate(client, task_queue)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        await b.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    p = await context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    await context.close()
    assert not errors, f"JavaScript errors: {errors}"


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await asyncio.to_thread(Path(SCREENSHOTS).mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def rows(page: Page) -> Any:
    return page.locator("#workflows tbody tr[data-workflow-id]")


async def test_filter_the_list_by_a_query(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    _, s = scenario
    await page.goto(ui_server[1] + "/")
    await expect(page).to_have_url(re.compile(r"/namespaces/default/workflows$"))
    await shot(page, "workflows")
    box = page.get_by_label("List filter")
    await box.fill(f"WorkflowType = 'UIApproval' AND TaskQueue = '{s.task_queue}'")
    await box.press("Enter")
    await expect(rows(page)).to_have_count(3)
    for wid in [h.id for h in s.approvals]:
        await expect(page.locator(f'tr[data-workflow-id="{wid}"]')).to_be_visible()
    # The query is in the URL (a saved query), and the chips count what it matches.
    assert "query=WorkflowType" in page.url
    await expect(page.locator('.chip[data-status="Running"] b')).to_have_text(re.compile(r"^[1-9]"))
    await expect(page.locator('.chip[data-status="Failed"] b')).to_have_text("0")
    # A status chip narrows the list further, keeping the query.
    await page.goto(
        f"{ui_server[1]}/namespaces/default/workflows?query=TaskQueue+%3D+%27{s.task_queue}%27"
    )
    await page.locator('.chip[data-status="Failed"]').click()
    await expect(rows(page)).to_have_count(1)
    assert s.failed is not None
    await expect(page.locator(f'tr[data-workflow-id="{s.failed.id}"]')).to_be_visible()
    assert "status=Failed" in page.url and "query=" in page.url


async def test_bad_query_shows_the_servers_message(page: Page, ui_server: tuple[str, str]) -> None:
    await page.goto(ui_server[1] + "/namespaces/default/workflows")
    await page.get_by_label("List filter").fill("WorkflowType = ")
    await page.get_by_label("List filter").press("Enter")
    await expect(page.locator("#query-error")).to_contain_text("Invalid query")
    assert "Traceback" not in await page.content()


async def test_sorting_and_paging(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    _, s = scenario
    query = f"TaskQueue = '{s.task_queue}' AND WorkflowType = 'UIGreeting'"
    base = f"{ui_server[1]}/namespaces/default/workflows"
    await page.goto(base)
    await page.get_by_label("List filter").fill(query)
    await page.get_by_label("Sort").select_option("start-asc")
    await page.get_by_role("button", name="Search").click()
    ids = await rows(page).evaluate_all("rs => rs.map(r => r.dataset.workflowId)")
    assert ids[:2] == [h.id for h in s.greetings], ids
    await page.get_by_label("Sort").select_option("start-desc")
    await page.get_by_role("button", name="Search").click()
    ids = await rows(page).evaluate_all("rs => rs.map(r => r.dataset.workflowId)")
    assert ids.index(s.greetings[1].id) < ids.index(s.greetings[0].id), ids


@pytest.mark.parametrize("sort", ["", "start-asc"])
async def test_paging_through_the_list(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario], sort: str
) -> None:
    _, s = scenario
    query = quote(f"TaskQueue = '{s.task_queue}'")
    await page.goto(f"{ui_server[1]}/namespaces/default/workflows?query={query}&size=4&sort={sort}")
    total = int(await page.locator(".chip.on b").inner_text())
    seen: list[str] = []
    while True:
        ids = await rows(page).evaluate_all(
            "rs => rs.map(r => r.dataset.workflowId + r.cells[2].innerText)"
        )
        assert 0 < len(ids) <= 4
        seen.extend(ids)
        following = page.get_by_role("link", name="Next page »")
        if not await following.count():
            break
        await following.click()
        await expect(page.get_by_role("link", name="« First page")).to_be_visible()
    # Every run once (a run is its workflow id and its row), the filter kept on each page.
    assert len(seen) == len(set(seen)) == total
    assert "size=4" in page.url and "TaskQueue" in page.url


async def test_open_a_workflow_read_events_and_signal_it(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    client, s = scenario
    handle = s.approvals[0]
    await page.goto(
        f"{ui_server[1]}/namespaces/default/workflows?query=WorkflowId+%3D+%27{handle.id}%27"
    )
    await page.get_by_role("link", name=handle.id).click()
    await expect(page.locator("#workflow-id")).to_have_text(handle.id)
    await expect(page.locator("#status")).to_have_text("Running")
    await expect(page.locator("#input")).to_contain_text('"items": [')
    events = page.locator("#events tbody tr")
    await expect(events.first).to_contain_text("WorkflowExecutionStarted")
    await expect(page.locator("#events")).to_contain_text("WorkflowTaskCompleted")
    await shot(page, "workflow-running")
    # The metadata query lists the signal; the call stack shows where the workflow waits.
    await page.get_by_role("link", name="Load queries, signals and updates").click()
    await expect(page.locator("#metadata-box")).to_contain_text("approve")
    await page.get_by_role("link", name="Load the call stack").click()
    await expect(page.locator("#stack-box")).to_contain_text("workflow: UIApproval")

    await page.locator('[data-action="signal"]').click()
    await page.get_by_label("Signal name").fill("approve")
    await page.get_by_label("Input (JSON, optional)").fill('"alice"')
    await page.get_by_label("Reason").fill("approved in the browser test")
    await shot(page, "confirm-signal")
    await page.locator("#confirm").click()
    await expect(page.locator("#flash")).to_have_text("Signal sent.")
    # The page follows the running workflow live until it closes.
    await expect(page.locator("#status")).to_have_text("Completed", timeout=15000)
    await expect(page.locator("#events")).to_contain_text("WorkflowExecutionSignaled")
    await expect(page.locator("#result")).to_contain_text("approved by alice")
    assert await handle.result() == "order A-0 approved by alice"
    history = await handle.fetch_history()
    signaled = [
        e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert (
        "approved in the browser test"
        in signaled[0].workflow_execution_signaled_event_attributes.identity
    )


async def test_terminate_a_workflow_and_see_its_status_change(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    _, s = scenario
    handle = s.approvals[1]
    await page.goto(f"{ui_server[1]}/namespaces/default/workflows/{handle.id}")
    await expect(page.locator("#status")).to_have_text("Running")
    await page.locator('[data-action="terminate"]').click()
    await expect(page.locator("h1")).to_contain_text("Terminate workflow")
    # The reason is required: the browser refuses an empty one.
    await page.locator("#confirm").click()
    await expect(page.locator("h1")).to_contain_text("Terminate workflow")
    await page.get_by_label("Reason").fill("stuck order")
    await page.locator("#confirm").click()
    await expect(page.locator("#flash")).to_have_text("Workflow terminated.")
    await expect(page.locator("#status")).to_have_text("Terminated")
    await expect(page.locator("#failure-message")).to_have_text("stuck order")
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


async def test_cancel_with_a_reason(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    _, s = scenario
    handle = s.approvals[2]
    await page.goto(f"{ui_server[1]}/namespaces/default/workflows/{handle.id}")
    await page.locator('[data-action="cancel"]').click()
    await page.get_by_label("Reason").fill("customer withdrew")
    await page.locator("#confirm").click()
    await expect(page.locator("#flash")).to_have_text("Cancellation requested.")
    await expect(page.locator("#status")).to_have_text("Canceled", timeout=15000)
    await expect(page.locator("#events")).to_contain_text("WorkflowExecutionCancelRequested")


async def test_failed_workflow_shows_its_failure(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    _, s = scenario
    assert s.failed is not None
    await page.goto(f"{ui_server[1]}/namespaces/default/workflows/{s.failed.id}")
    await expect(page.locator("#status")).to_have_text("Failed")
    await expect(page.locator("#failure-message")).to_contain_text("card declined for P-7")
    await expect(page.locator("#failure-message")).to_contain_text("PaymentDeclined")
    await expect(page.locator("#input")).to_contain_text('"P-7"')
    # The disclosure holds the worker's stack trace text, not the failure's JSON.
    stack = page.locator("#stack-trace pre")
    await expect(stack).to_be_hidden()
    await page.locator("#stack-trace summary").click()
    await expect(stack).to_contain_text("ui_scenario.py")
    await expect(stack).to_contain_text("raise ApplicationError")
    await expect(stack).not_to_contain_text("applicationFailureInfo")
    await expect(page.locator("#result")).not_to_contain_text("stackTrace")
    await shot(page, "workflow-failed")


async def test_pending_activity_children_and_run_chain(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    _, s = scenario
    assert s.retrying and s.parent and s.counter
    base = f"{ui_server[1]}/namespaces/default/workflows"
    await page.goto(f"{base}/{s.retrying.id}")
    pending = page.locator("#pending-activities tbody tr")
    await expect(pending).to_have_count(1)
    await expect(pending).to_contain_text("charge_card")
    await expect(pending).to_contain_text("bank unavailable for R-1")
    await expect(page.locator("#timeline .bar.k-activity")).to_have_count(1)
    await shot(page, "workflow-pending-activity")

    await page.goto(f"{base}/{s.parent.id}")
    await expect(page.locator("#children")).to_contain_text(f"{s.parent.id}-child")
    await expect(page.locator("#timeline .bar.k-child")).to_have_count(1)
    await page.get_by_role("link", name=f"{s.parent.id}-child").click()
    await expect(page.locator("#parent-link")).to_have_text(s.parent.id)
    await expect(page.locator("#result")).to_contain_text("Hello, child!")
    await shot(page, "workflow-completed")

    await page.goto(f"{base}/{s.counter.id}/{s.counter.first_execution_run_id or s.counter.run_id}")
    await expect(page.locator("#status")).to_have_text("ContinuedAsNew")
    await expect(page.locator("#runs tbody tr")).to_have_count(3)
    await page.locator("#next-run").click()
    await expect(page.locator("#runs tr.current")).to_be_visible()


async def test_reset_starts_a_new_run(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    client, s = scenario
    handle = s.greetings[0]
    await page.goto(
        f"{ui_server[1]}/namespaces/default/workflows/{handle.id}/{handle.result_run_id}"
    )
    await page.locator('[data-action="reset"]').click()
    await page.get_by_label("Reason").fill("replay after fix")
    await page.locator("#confirm").click()
    await expect(page.locator("#flash")).to_contain_text("Workflow reset")
    new_run = page.url.split("/")[-1].split("?")[0]
    assert new_run != handle.result_run_id
    await expect(page.locator("#status")).to_have_text("Completed", timeout=15000)
    assert await client.get_workflow_handle(handle.id, run_id=new_run).result() == {
        "greeting": "Hello, Ada!",
        "length": 11,
    }


async def test_unknown_workflow_is_a_clear_page(page: Page, ui_server: tuple[str, str]) -> None:
    response = await page.goto(f"{ui_server[1]}/namespaces/default/workflows/no-such-workflow")
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_have_text("Not found")
    await expect(page.locator("#error-message")).to_contain_text("no-such-workflow")
    await shot(page, "error-not-found")


async def test_schedules_list_detail_pause_and_trigger(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    client, s = scenario
    await page.goto(f"{ui_server[1]}/namespaces/default/schedules")
    await shot(page, "schedules")
    await page.get_by_role("link", name=s.schedule_id).click()
    await expect(page.locator("#schedule-state")).to_contain_text("Active")
    await page.get_by_label("Note").fill("maintenance window")
    await page.locator("#pause-toggle").click()
    await expect(page.locator("#flash")).to_have_text("Schedule paused.")
    await expect(page.locator("#schedule-state")).to_contain_text("Paused")
    await expect(page.locator("#schedule-state")).to_contain_text("maintenance window")
    assert (await client.get_schedule_handle(s.schedule_id).describe()).schedule.state.paused
    await page.locator("#trigger").click()
    await expect(page.locator("#flash")).to_have_text("Action triggered.")

    async def triggered() -> bool:
        await page.reload()
        return await page.locator("#recent-actions a").count() > 0

    await wait_for(triggered, within=15, message="the triggered action listed")
    await shot(page, "schedule")
    await page.locator("#pause-toggle").click()
    await expect(page.locator("#schedule-state")).to_contain_text("Active")


async def test_task_queue_and_search_attribute_pages(
    page: Page, ui_server: tuple[str, str], scenario: tuple[Client, Scenario]
) -> None:
    _, s = scenario
    await page.goto(f"{ui_server[1]}/namespaces/default/task-queues")
    await page.get_by_role("link", name=s.task_queue).click()
    await expect(page.locator("h1")).to_have_text(f"Task queue {s.task_queue}")
    # The scenario's worker polls this queue: DescribeTaskQueue lists it.
    await expect(page.locator("#pollers tbody tr").first).to_be_visible()
    await expect(page.locator("#pollers")).to_contain_text("Workflow")
    await shot(page, "task-queue")
    await page.goto(f"{ui_server[1]}/namespaces/default/search-attributes")
    await expect(page.locator("#system-attributes")).to_contain_text("WorkflowType")
    await page.goto(f"{ui_server[1]}/namespaces")
    await expect(page.get_by_role("table").get_by_role("link", name="default")).to_be_visible()
    await shot(page, "namespaces")


# --- authorization: the same token, from the cookie or the header ---------------------


@pytest.fixture(scope="module")
def auth_ui_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a SQLite database whose schema is set up."""
    tmp = tmp_path_factory.mktemp("ui-auth")
    setup = subprocess.run(
        [sys.executable, "-m", "pytemporal", "schema", "setup", "--db", f"sqlite:///{tmp}/pt.db"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setup.returncode == 0, setup.stderr
    return tmp


@pytest.fixture(scope="module")
async def auth_ui(auth_ui_dir: Path) -> AsyncIterator[tuple[Client, str]]:
    """`server start` with JWT authorization and `ui.enabled`; (admin client, UI URL)."""
    tmp = auth_ui_dir
    db = tmp / "pt.db"
    key_file = tmp / "jwks.json"
    key_file.write_bytes(jwks(RSA))
    port, ui_port = free_port(), free_port()
    config = tmp / "pytemporal.yaml"
    config.write_text(
        f"persistence: {{sqlite_path: '{db}'}}\n"
        f"listen: {{ip: 127.0.0.1, port: {port}}}\n"
        f"ui: {{enabled: true, port: {ui_port}}}\n"
        "authorization:\n"
        f"  jwtKeyProvider: {{keySourceURIs: ['{key_file.as_uri()}']}}\n"
        f"  audience: {AUDIENCE}\n"
    )
    server = AuthorizedServer(config, port)
    client = await server.start()
    try:
        yield client, f"http://127.0.0.1:{ui_port}"
    finally:
        server.terminate(timeout=5)


async def test_token_cookie_flow_and_permissions(page: Page, auth_ui: tuple[Client, str]) -> None:
    client, url = auth_ui
    handle = await client.start_workflow("Unserved", id=unique("authz"), task_queue=unique("none"))
    reader = RSA.token(["default:read"], aud=AUDIENCE, sub="reader")
    # Without a token every page leads to the token page, then back.
    await page.goto(f"{url}/namespaces/default/workflows/{handle.id}")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await shot(page, "token")
    await page.get_by_label("Token").fill(reader)
    await page.get_by_role("button", name="Use this token").click()
    await expect(page.locator("#workflow-id")).to_have_text(handle.id)
    # A reader may look but not terminate: the frontend's answer, shown as a page.
    await page.locator('[data-action="terminate"]').click()
    await page.get_by_label("Reason").fill("not allowed")
    await page.locator("#confirm").click()
    await expect(page.locator("h1")).to_have_text("Permission denied")
    await expect(page.locator("#error-message")).to_have_text("Request unauthorized.")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await shot(page, "error-permission-denied")
    # Forgetting the token leads back to the token page.
    await page.goto(f"{url}/namespaces/default/workflows")
    await page.get_by_role("button", name="Forget token").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    # A token the server refuses is a clear page too.
    await page.get_by_label("Token").fill("not-a-jwt")
    await page.get_by_role("button", name="Use this token").click()
    await expect(page.locator("h1")).to_have_text("Permission denied")
    # The header works as well as the cookie (scripts, proxies that inject it).
    writer = RSA.token(["default:write"], aud=AUDIENCE, sub="writer")
    async with httpx.AsyncClient(base_url=url) as http:
        listed = await http.get(
            "/namespaces/default/workflows", headers={"Authorization": f"Bearer {writer}"}
        )
        assert listed.status_code == 200 and handle.id in listed.text
        anonymous = await http.get("/namespaces/default/workflows")
        assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/login")
        healthy = await http.get("/health")
        assert healthy.status_code == 200
    await handle.terminate("test over")
