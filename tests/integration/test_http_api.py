"""Temporal's HTTP API (`--http-port`) with httpx against a real server process.

Workflows are started, signalled, queried, listed, terminated and cancelled over HTTP
while an official-SDK worker runs them; errors carry Temporal's status body. With
authorization on, the HTTP API applies the same tokens and permissions as the gRPC
port (header or the UI's cookie); with mutual TLS on the frontend, it serves HTTPS
and requires a client certificate. `test_http_api_differential` runs the same calls
against Temporal's dev server's HTTP API and compares status codes and fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from pytemporal.web.http_routes import Route, RouteTable, temporal_routes

from .harness import (
    PYTEMPORAL,
    REFERENCE,
    ServerProcess,
    free_port,
    running_worker,
    unique,
    wait_for,
)
from .workflows import ApprovalWorkflow, HelloWorkflow

NS = "/api/v1/namespaces/default"
ERROR_DETAILS = "type.googleapis.com/temporal.api.errordetails.v1."


class HttpServer(ServerProcess):
    """`start-dev --http-port PORT` (pytemporal or Temporal's dev server)."""

    def __init__(self, kind: str, flags: list[str] | None = None) -> None:
        super().__init__(kind)
        self.http_port = free_port()
        self.flags = flags or []

    def command(self) -> list[str]:
        return [*super().command(), "--http-port", str(self.http_port), *self.flags]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@pytest.fixture(scope="module")
async def http_server() -> AsyncIterator[HttpServer]:
    server = HttpServer(PYTEMPORAL)
    await server.start()
    try:
        yield server
    finally:
        server.terminate(timeout=5)


@pytest.fixture(scope="module")
async def sdk(http_server: HttpServer) -> Client:
    return await http_server.connect()


@pytest.fixture
async def http(http_server: HttpServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_server.base_url, timeout=30) as client:
        yield client


def start_body(workflow_type: str, task_queue: str, args: list[Any]) -> dict[str, Any]:
    return {
        "workflowType": {"name": workflow_type},
        "taskQueue": {"name": task_queue},
        "input": args,
    }


async def test_list_clusters_names_the_http_api(http_server: HttpServer, sdk: Client) -> None:
    from temporalio.api.operatorservice.v1 import ListClustersRequest

    [cluster] = (await sdk.operator_service.list_clusters(ListClustersRequest())).clusters
    assert cluster.http_address == f"127.0.0.1:{http_server.http_port}"


async def test_system_info_namespaces_and_health(http: httpx.AsyncClient) -> None:
    info = await http.get("/api/v1/system-info")
    assert info.status_code == 200 and "capabilities" in info.json()
    assert info.headers["content-type"].startswith("application/json")
    names = [
        n["namespaceInfo"]["name"]
        for n in (await http.get("/api/v1/namespaces")).json()["namespaces"]
    ]
    assert "default" in names
    described = await http.get(NS)
    assert described.json()["namespaceInfo"]["name"] == "default"
    # The binding without /api/v1 (additional_bindings) serves the same call.
    assert (await http.get("/cluster/namespaces/default")).json() == described.json()
    missing = await http.get("/api/v1/namespaces/no-such-namespace")
    assert missing.status_code == 404
    assert missing.json()["details"][0]["@type"] == ERROR_DETAILS + "NamespaceNotFoundFailure"
    health = await http.get("/health")
    assert (health.status_code, health.json()["status"]) == (200, "SERVING")


async def test_a_workflow_driven_over_http(sdk: Client, http: httpx.AsyncClient) -> None:
    task_queue, wf = unique("tq"), unique("http-wf")
    async with running_worker(sdk, task_queue, workflows=[ApprovalWorkflow]):
        started = await http.post(
            f"{NS}/workflows/{wf}", json=start_body("ApprovalWorkflow", task_queue, [60])
        )
        assert started.status_code == 200, started.text
        run_id = started.json()["runId"]
        query = await http.post(f"{NS}/workflows/{wf}/query/status", json={})
        assert query.status_code == 200, query.text
        assert query.json()["queryResult"] == ["waiting"]
        signal = await http.post(
            f"{NS}/workflows/{wf}/signal/decide",
            json={"input": [{"approved": True, "approver": "http"}]},
        )
        assert (signal.status_code, signal.json()) == (200, {})
        assert await sdk.get_workflow_handle(wf).result() == "approved by http"

    described = (await http.get(f"{NS}/workflows/{wf}")).json()["workflowExecutionInfo"]
    assert described["status"] == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    assert described["execution"] == {"workflowId": wf, "runId": run_id}
    events = (await http.get(f"{NS}/workflows/{wf}/history")).json()["history"]["events"]
    by_type = {e["eventType"]: e for e in events}
    signalled = by_type["EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"]
    assert signalled["workflowExecutionSignaledEventAttributes"]["input"] == [
        {"approved": True, "approver": "http"}
    ]
    completed = by_type["EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"]
    assert completed["workflowExecutionCompletedEventAttributes"]["result"] == ["approved by http"]
    # Without the shorthand, payloads are protobuf's JSON (base64 metadata and data).
    plain = (await http.get(f"{NS}/workflows/{wf}/history?noPayloadShorthand")).json()
    started_attrs = plain["history"]["events"][0]["workflowExecutionStartedEventAttributes"]
    assert set(started_attrs["input"]["payloads"][0]) == {"metadata", "data"}

    async def listed() -> list[Any]:
        response = await http.get(f"{NS}/workflows", params={"query": f"WorkflowId='{wf}'"})
        return list(response.json().get("executions", []))

    executions = await wait_for(listed, message="the workflow in the list")
    assert executions[0]["status"] == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    count = await http.get(f"{NS}/workflow-count", params={"query": f"WorkflowId='{wf}'"})
    assert count.json()["count"] == "1"


async def test_terminate_and_cancel_over_http(sdk: Client, http: httpx.AsyncClient) -> None:
    task_queue = unique("tq")
    doomed = await sdk.start_workflow(
        ApprovalWorkflow.run, 60, id=unique("t"), task_queue=task_queue
    )
    terminated = await http.post(
        f"{NS}/workflows/{doomed.id}/terminate", json={"reason": "by http"}
    )
    assert (terminated.status_code, terminated.json()) == (200, {})
    assert (await doomed.describe()).status == WorkflowExecutionStatus.TERMINATED

    cancelled = await sdk.start_workflow(
        ApprovalWorkflow.run, 60, id=unique("c"), task_queue=task_queue
    )
    response = await http.post(f"{NS}/workflows/{cancelled.id}/cancel", json={"reason": "by http"})
    assert response.status_code == 200, response.text
    events = (await http.get(f"{NS}/workflows/{cancelled.id}/history")).json()["history"]["events"]
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED" in [e["eventType"] for e in events]
    await cancelled.terminate("cleanup")


async def test_search_attributes_and_schedules(http: httpx.AsyncClient) -> None:
    attributes = (await http.get(f"{NS}/search-attributes")).json()
    assert attributes["systemAttributes"]["WorkflowId"] == "INDEXED_VALUE_TYPE_KEYWORD"
    schedule_id = unique("sched")
    body = {
        # Required, unlike a workflow start's (Temporal's scheduler refuses it).
        "requestId": unique("req"),
        "schedule": {
            "spec": {"interval": [{"interval": "3600s"}]},
            "action": {
                "startWorkflow": {
                    "workflowId": unique("from-schedule"),
                    "workflowType": {"name": "HelloWorkflow"},
                    "taskQueue": {"name": unique("tq")},
                    "input": ["scheduled"],
                }
            },
        },
    }
    created = await http.post(f"{NS}/schedules/{schedule_id}", json=body)
    assert created.status_code == 200, created.text
    described = (await http.get(f"{NS}/schedules/{schedule_id}")).json()
    action = described["schedule"]["action"]["startWorkflow"]
    assert (action["workflowType"]["name"], action["input"]) == (
        HelloWorkflow.__name__,
        ["scheduled"],
    )

    async def listed() -> bool:
        schedules = (await http.get(f"{NS}/schedules")).json().get("schedules", [])
        return any(s["scheduleId"] == schedule_id for s in schedules)

    await wait_for(listed, message="the schedule in the list")
    assert (await http.delete(f"{NS}/schedules/{schedule_id}")).status_code == 200
    assert (await http.get(f"{NS}/schedules/{schedule_id}")).status_code == 404


async def test_errors_have_temporals_status_body(http: httpx.AsyncClient) -> None:
    missing = await http.get(f"{NS}/workflows/no-such-workflow")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": 5,
        "message": "workflow not found for ID: no-such-workflow",
        "details": [{"@type": ERROR_DETAILS + "NotFoundFailure"}],
    }
    bad_page = await http.get(f"{NS}/workflows", params={"pageSize": "abc"})
    assert (bad_page.status_code, bad_page.json()["code"]) == (400, 3)
    bad_json = await http.post(f"{NS}/workflows/x", content=b"{not json")
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, 3)
    unknown_field = await http.post(f"{NS}/workflows/x", json={"bogus": 1})
    assert unknown_field.status_code == 400
    assert unknown_field.json() == {"code": 3, "message": 'unknown field "bogus"'}
    invalid = await http.post(f"{NS}/workflows/x", json={"workflowType": {"name": "W"}})
    assert (invalid.status_code, invalid.json()["code"]) == (400, 3)
    wrong_method = await http.delete("/api/v1/system-info")
    assert (wrong_method.status_code, wrong_method.json()) == (
        501,
        {"code": 12, "message": "Method Not Allowed"},
    )
    no_route = await http.get("/api/v1/nothing-here")
    assert (no_route.status_code, no_route.json()) == (404, {"code": 5, "message": "Not Found"})
    too_large = await http.post(f"{NS}/workflows/x", content=b" " * (5 * 1024 * 1024))
    assert (too_large.status_code, too_large.json()["code"]) == (400, 3)
    pretty = await http.get(f"{NS}/workflows/no-such-workflow?pretty")
    assert pretty.text.startswith('{\n  "code": 5')


async def test_headers_that_cannot_be_grpc_metadata(http: httpx.AsyncClient) -> None:
    # Passed on: Grpc-Metadata-<key> as <key>; gRPC's own names are dropped.
    for headers in ({"Grpc-Metadata-Trace": "a b"}, {"Grpc-Metadata-grpc-status": "3"}):
        assert (await http.get("/api/v1/system-info", headers=headers)).status_code == 200
    for name in ("Grpc-Metadata-foo", "Authorization"):
        response = await http.get("/api/v1/system-info", headers={name: "é".encode()})
        assert (response.status_code, response.json()["code"]) == (400, 3)


async def test_grpc_timeout_bounds_a_long_poll(sdk: Client, http: httpx.AsyncClient) -> None:
    handle = await sdk.start_workflow(
        ApprovalWorkflow.run, 60, id=unique("w"), task_queue=unique("tq")
    )
    path = f"{NS}/workflows/{handle.id}/history"
    # Waiting for the close event of a run no worker runs: the server answers an empty
    # page just before the caller's deadline (20 s without one), as Temporal does.
    params = {
        "waitNewEvent": "true",
        "historyEventFilterType": "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT",
    }
    began = time.monotonic()
    waited = await http.get(path, params=params, headers={"Grpc-Timeout": "1S"})
    assert time.monotonic() - began < 10
    assert waited.status_code == 200 and "events" not in waited.json()["history"]
    bad = await http.get(path, headers={"Grpc-Timeout": "soon"})
    assert (bad.status_code, bad.json()["code"]) == (400, 3)
    await handle.terminate("done")


async def test_ids_with_slashes_are_percent_encoded(sdk: Client, http: httpx.AsyncClient) -> None:
    wf = f"orders/{unique('x')}"
    await sdk.start_workflow(ApprovalWorkflow.run, 60, id=wf, task_queue=unique("tq"))
    encoded = wf.replace("/", "%2F")
    described = await http.get(f"{NS}/workflows/{encoded}")
    assert described.json()["workflowExecutionInfo"]["execution"]["workflowId"] == wf
    assert (await http.post(f"{NS}/workflows/{encoded}/terminate", json={})).status_code == 200


# --- with authorization -----------------------------------------------------------------


async def test_authorization_applies_to_the_http_api(tmp_path: Path) -> None:
    from .test_authorization import EC, RSA, JwksServer, start_server, token

    database = tmp_path / "authz.db"
    setup = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytemporal", "schema", "setup", "--db", f"sqlite:///{database}"
    )
    assert await asyncio.wait_for(setup.wait(), timeout=60) == 0
    port = free_port()
    with JwksServer(EC) as jwks_http:
        server = await start_server(
            tmp_path, database, jwks_http, f"http: {{ip: 127.0.0.1, port: {port}}}\n"
        )
        try:
            await _check_authorization(f"http://127.0.0.1:{port}", RSA, token)
        finally:
            server.terminate(timeout=5)


async def _check_authorization(base_url: str, key: Any, make_token: Any) -> None:
    admin = make_token(key, ["temporal-system:admin"])
    reader = make_token(key, ["default:read"])
    wf_body = start_body("HelloWorkflow", unique("tq"), ["x"])
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        refused = await http.get(f"{NS}/workflows")
        assert refused.status_code == 403
        assert refused.json()["message"] == "Request unauthorized."
        assert refused.json()["details"][0]["@type"] == ERROR_DETAILS + "PermissionDeniedFailure"
        read = {"Authorization": f"Bearer {reader}"}
        assert (await http.get(f"{NS}/workflows", headers=read)).status_code == 200
        writing = await http.post(f"{NS}/workflows/{unique('w')}", json=wf_body, headers=read)
        assert writing.status_code == 403
        as_admin = {"Authorization": f"Bearer {admin}"}
        assert (
            await http.post(f"{NS}/workflows/{unique('w')}", json=wf_body, headers=as_admin)
        ).status_code == 200
        # The web UI's session cookie carries the same token.
        cookie = await http.post(
            f"{NS}/workflows/{unique('w')}", json=wf_body, cookies={"pytemporal-token": admin}
        )
        assert cookie.status_code == 200, cookie.text
        # What another page could make a browser send (no preflight) does not use it.
        forged = await http.post(
            f"{NS}/workflows/{unique('w')}",
            content=json.dumps(wf_body),
            headers={"Content-Type": "text/plain"},
            cookies={"pytemporal-token": admin},
        )
        assert forged.status_code == 403
        reading = await http.get(f"{NS}/workflows", cookies={"pytemporal-token": reader})
        assert reading.status_code == 200
        bad = await http.get(f"{NS}/workflows", headers={"Authorization": "Bearer not-a-jwt"})
        assert bad.status_code == 403


# --- with mutual TLS on the frontend ----------------------------------------------------


async def test_mutual_tls_frontend_serves_https_and_calls_through_its_socket(
    tmp_path: Path,
) -> None:
    from temporalio.client import TLSConfig

    from .test_tls import PKI, _served_common_name

    pki = PKI(tmp_path)
    client_tls = TLSConfig(
        server_root_ca_cert=pki.ca.pem,
        client_cert=pki.client.cert,
        client_private_key=pki.client.key,
    )

    class MutualServer(HttpServer):
        async def connect(self, **kwargs: Any) -> Client:
            kwargs.setdefault("tls", client_tls)
            return await super().connect(**kwargs)

    server = MutualServer(PYTEMPORAL, pki.flags(mutual=True))
    await server.start()
    try:
        url = f"https://127.0.0.1:{server.http_port}/api/v1/system-info"
        with_cert = ssl.create_default_context(cafile=str(pki.ca_path))
        with_cert.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        async with httpx.AsyncClient(verify=with_cert, timeout=30) as http:
            assert (await http.get(url)).status_code == 200
        without = ssl.create_default_context(cafile=str(pki.ca_path))
        async with httpx.AsyncClient(verify=without, timeout=30) as http:
            with pytest.raises(httpx.HTTPError):
                await http.get(url)
        # A replaced certificate is served to new connections, as on the gRPC port.
        target = f"127.0.0.1:{server.http_port}"
        assert await asyncio.to_thread(_served_common_name, target, pki.ca_path) == "server-a"
        rotated = pki.ca.issue("server-b")
        for data, path in ((rotated.key, pki.server_key), (rotated.cert, pki.server_cert)):
            aside = path.with_suffix(".new")
            aside.write_bytes(data)
            os.replace(aside, path)

        async def served() -> bool:
            cn = await asyncio.to_thread(_served_common_name, target, pki.ca_path)
            return cn == "server-b"

        await wait_for(served, within=15, message="the new certificate served")
        async with httpx.AsyncClient(verify=with_cert, timeout=30) as http:
            assert (await http.get(url)).status_code == 200
    finally:
        server.terminate(timeout=5)


# --- against Temporal's dev server ------------------------------------------------------


async def _both(
    servers: list[HttpServer], method: str, path: str, **kwargs: Any
) -> list[httpx.Response]:
    out = []
    for server in servers:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            out.append(await http.request(method, path, **kwargs))
    return out


@pytest.mark.reference
async def test_http_api_differential() -> None:
    servers = [HttpServer(PYTEMPORAL), HttpServer(REFERENCE)]
    for server in servers:
        await server.start()
    try:
        await _differential(servers)
        await _differential_with_workers(servers)
    finally:
        for server in servers:
            server.terminate(timeout=5)


async def _same_status(
    servers: list[HttpServer], method: str, path: str, **kwargs: Any
) -> list[Any]:
    responses = await _both(servers, method, path, **kwargs)
    ours, theirs = responses
    assert ours.status_code == theirs.status_code, (path, ours.text, theirs.text)
    return [r.json() for r in responses]


async def _differential(servers: list[HttpServer]) -> None:
    info = await _same_status(servers, "GET", "/api/v1/system-info")
    assert set(info[0]) == set(info[1])
    described = await _same_status(servers, "GET", NS)
    assert set(described[0]) <= set(described[1])
    assert described[0]["namespaceInfo"]["name"] == described[1]["namespaceInfo"]["name"]
    errors = [
        ("GET", "/api/v1/namespaces/no-such-namespace", {}),
        ("GET", f"{NS}/workflows/no-such-workflow", {}),
        ("GET", f"{NS}/workflows?pageSize=abc", {}),
        ("POST", f"{NS}/workflows/x", {"json": {"bogus": 1}}),
        ("POST", f"{NS}/workflows/x", {"content": b"{not json"}),
        ("POST", f"{NS}/workflows/no-such-workflow/terminate", {"json": {}}),
        ("DELETE", "/api/v1/system-info", {}),
        ("GET", "/api/v1/nothing-here", {}),
    ]
    for method, path, kwargs in errors:
        ours, theirs = await _same_status(servers, method, path, **kwargs)
        assert ours["code"] == theirs["code"], path
        assert [d["@type"] for d in ours.get("details", [])] == [
            d["@type"] for d in theirs.get("details", [])
        ], path
    not_found = await _same_status(servers, "GET", f"{NS}/workflows/no-such-workflow")
    assert not_found[0] == not_found[1]

    wf, task_queue = unique("diff"), unique("tq")
    body = start_body("Diff", task_queue, [{"a": 1}, "x", None])
    started = await _same_status(servers, "POST", f"{NS}/workflows/{wf}", json=body)
    assert all(s["started"] is True and s["runId"] for s in started)
    again = await _same_status(servers, "POST", f"{NS}/workflows/{wf}", json=body)
    assert again[0]["code"] == again[1]["code"] == 6
    assert set(again[0]["details"][0]) == set(again[1]["details"][0])
    signal = await _same_status(
        servers, "POST", f"{NS}/workflows/{wf}/signal/go", json={"input": [1]}
    )
    # Temporal's answer also links to the event (a gRPC-level difference, not HTTP's).
    assert set(signal[0]) <= set(signal[1])
    histories = await _same_status(servers, "GET", f"{NS}/workflows/{wf}/history")
    events = [[e["eventType"] for e in h["history"]["events"]] for h in histories]
    assert events[0] == events[1]
    inputs = [
        h["history"]["events"][0]["workflowExecutionStartedEventAttributes"]["input"]
        for h in histories
    ]
    assert inputs[0] == inputs[1] == [{"a": 1}, "x", {"metadata": {"encoding": "YmluYXJ5L251bGw="}}]
    plain = await _same_status(servers, "GET", f"{NS}/workflows/{wf}/history?noPayloadShorthand")
    payloads = [
        p["history"]["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
        for p in plain
    ]
    assert payloads[0] == payloads[1]
    described = await _same_status(servers, "GET", f"{NS}/workflows/{wf}")
    infos = [d["workflowExecutionInfo"] for d in described]
    for key in ("type", "status", "taskQueue"):
        assert infos[0][key] == infos[1][key], key
    assert set(described[0]) <= set(described[1])

    async def listed() -> bool:
        lists = await _same_status(
            servers, "GET", f"{NS}/workflows", params={"query": f"WorkflowId='{wf}'"}
        )
        return all(len(page.get("executions", [])) == 1 for page in lists)

    await wait_for(listed, message="the workflow in both lists")
    await _differential_formats(servers, task_queue)
    await _same_status(servers, "POST", f"{NS}/workflows/{wf}/terminate", json={"reason": "diff"})
    described = await _same_status(servers, "GET", f"{NS}/workflows/{wf}")
    statuses = {d["workflowExecutionInfo"]["status"] for d in described}
    assert statuses == {"WORKFLOW_EXECUTION_STATUS_TERMINATED"}
    attributes = await _same_status(servers, "GET", f"{NS}/search-attributes")
    assert set(attributes[0]) == set(attributes[1])
    await _same_status(servers, "GET", f"{NS}/schedules")
    pretty = await _both(servers, "GET", f"{NS}/workflows/no-such-workflow?pretty")
    assert json.loads(pretty[0].text) == json.loads(pretty[1].text)
    assert pretty[0].text.splitlines()[:2] == pretty[1].text.splitlines()[:2]


def _filled(route: Route) -> str:
    parts = []
    for segment in route.segments:
        if isinstance(segment, str):
            parts.append(segment)
        else:
            parts.append("default" if segment.field_path == ("namespace",) else "x")
    return "/" + "/".join(parts)


async def test_every_route_answers_temporals_status_never_an_internal_error(
    http: httpx.AsyncClient,
) -> None:
    """An empty request to every route reaches the RPC: it answers or refuses with a
    status body, never 500 (UNIMPLEMENTED, 501, for calls not implemented)."""
    seen = set()
    for route in RouteTable(temporal_routes()).routes:
        if not route.template.startswith("/api/v1/") or route.method in seen:
            continue
        seen.add(route.method)
        body = {"content": b"{}"} if route.body else {}
        response = await http.request(route.verb, _filled(route), timeout=20, **body)
        assert response.status_code != 500, (route.method, response.text)
        if response.status_code != 200:
            assert isinstance(response.json()["code"], int), (route.method, response.text)
    assert len(seen) > 100


async def test_allowed_hosts_refuse_other_host_headers() -> None:
    from pytemporal.config import ServerConfig
    from pytemporal.server import serve

    stop, ready, endpoints = asyncio.Event(), asyncio.Event(), dict[str, str]()
    allowed = {"frontend.httpAllowedHosts": ["127.0.0.1:*"]}
    config = ServerConfig(port=0, http_port=0, dynamic_config=allowed)
    task = asyncio.create_task(
        serve(config, stop=stop, endpoints=endpoints, on_ready=lambda _: ready.set())
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
        async with httpx.AsyncClient(base_url=f"http://{endpoints['http']}") as http:
            assert (await http.get("/api/v1/system-info")).status_code == 200
            refused = await http.get("/api/v1/system-info", headers={"Host": "evil.example"})
            assert (refused.status_code, refused.json()) == (
                403,
                {"code": 7, "message": "Host not allowed"},
            )
            # Health probes and unknown paths are not API routes.
            assert (await http.get("/health", headers={"Host": "evil.example"})).status_code == 200
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def test_in_process_server_reports_its_http_endpoint() -> None:
    from pytemporal.config import ServerConfig
    from pytemporal.server import serve

    stop, ready, endpoints = asyncio.Event(), asyncio.Event(), dict[str, str]()
    config = ServerConfig(port=0, http_port=0)
    task = asyncio.create_task(
        serve(config, stop=stop, endpoints=endpoints, on_ready=lambda _: ready.set())
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
        assert set(endpoints) == {"grpc", "http"}
        async with httpx.AsyncClient(base_url=f"http://{endpoints['http']}", timeout=60) as http:
            assert (await http.get("/health")).json()["status"] == "SERVING"
            assert (await http.get("/api/v1/system-info")).status_code == 200
            wf = unique("w")
            body = start_body("W", unique("tq"), [])
            assert (await http.post(f"{NS}/workflows/{wf}", json=body)).status_code == 200
            # A long poll in flight (20 s by itself) does not hold the stop back.
            params = {
                "waitNewEvent": "true",
                "historyEventFilterType": "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT",
            }
            poll = asyncio.create_task(http.get(f"{NS}/workflows/{wf}/history", params=params))
            # Answered after the poll went out on the open connection: it is in flight.
            async with httpx.AsyncClient(base_url=http.base_url) as other:
                assert (await other.get(f"{NS}/workflows/{wf}")).status_code == 200
            assert not poll.done()
            began = time.monotonic()
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            assert time.monotonic() - began < 10
            # Answered (an empty page) or cut off: it had reached the server.
            outcome = await asyncio.gather(poll, return_exceptions=True)
            assert isinstance(outcome[0], httpx.Response | httpx.RemoteProtocolError), outcome
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://{endpoints['http']}/health")


async def _differential_formats(servers: list[HttpServer], task_queue: str) -> None:
    """The marshaler is picked as grpc-gateway picks it: the body's by Content-Type,
    the answer's by Accept (which ?pretty and ?noPayloadShorthand set)."""
    plain = "application/json+no-payload-shorthand"
    standard = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "MQ=="}]}
    cases: list[tuple[str, dict[str, Any], Any]] = [
        ("?noPayloadShorthand", {}, [1]),  # the query changes the answer only
        ("", {"Content-Type": plain}, standard),
        ("", {"Content-Type": plain}, [1]),  # a list is no Payloads without shorthand
        ("", {"Content-Type": "application/json+pretty"}, [1]),
        ("", {"Accept": plain}, [1]),
    ]
    for query, headers, given in cases:
        wf = unique("fmt")
        body = json.dumps(start_body("Diff", task_queue, given)).encode()
        path = f"{NS}/workflows/{wf}{query}"
        responses = await _both(servers, "POST", path, content=body, headers=headers)
        assert responses[0].status_code == responses[1].status_code, (headers, responses[0].text)
        pretty = [r.text.startswith("{\n") for r in responses]
        assert pretty[0] == pretty[1], headers
        if responses[0].status_code == 200:
            path = f"{NS}/workflows/{wf}/history"
            histories = await _same_status(servers, "GET", path, headers=headers)
            inputs = [
                h["history"]["events"][0]["workflowExecutionStartedEventAttributes"]["input"]
                for h in histories
            ]
            assert inputs[0] == inputs[1], headers


async def _differential_with_workers(servers: list[HttpServer]) -> None:
    """Start, query and signal over HTTP while an SDK worker runs the workflow on each
    server: the answers and the resulting histories agree."""
    wf, task_queue = unique("diff-q"), unique("tq")
    clients = [await s.connect() for s in servers]
    async with contextlib.AsyncExitStack() as stack:
        for client in clients:
            await stack.enter_async_context(
                running_worker(client, task_queue, workflows=[ApprovalWorkflow])
            )
        body = start_body("ApprovalWorkflow", task_queue, [60])
        await _same_status(servers, "POST", f"{NS}/workflows/{wf}", json=body)
        query = await _same_status(servers, "POST", f"{NS}/workflows/{wf}/query/status", json={})
        assert query[0]["queryResult"] == query[1]["queryResult"] == ["waiting"]
        unknown = await _same_status(servers, "POST", f"{NS}/workflows/{wf}/query/nope", json={})
        assert unknown[0]["code"] == unknown[1]["code"]
        signal = {"input": [{"approved": False, "approver": "diff"}]}
        await _same_status(servers, "POST", f"{NS}/workflows/{wf}/signal/decide", json=signal)
        results = [await c.get_workflow_handle(wf).result() for c in clients]
        assert results == ["rejected by diff"] * 2
    histories = await _same_status(servers, "GET", f"{NS}/workflows/{wf}/history")
    events = [[e["eventType"] for e in h["history"]["events"]] for h in histories]
    assert events[0] == events[1]
