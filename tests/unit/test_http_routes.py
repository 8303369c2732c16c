"""The HTTP API's route table and request building: pure, no server."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    ListWorkflowExecutionsRequest,
    RespondActivityTaskFailedRequest,
    StartWorkflowExecutionRequest,
)

from pytemporal.web import http_params, json_mapping
from pytemporal.web.http_routes import (
    MethodNotAllowed,
    RouteTable,
    RouteTemplateError,
    Variable,
    parse_template,
    temporal_routes,
)

TABLE = RouteTable(temporal_routes())


def test_every_annotated_method_of_both_services_has_routes() -> None:
    methods = {(r.service.rsplit(".", 1)[-1], r.method) for r in TABLE.routes}
    assert ("WorkflowService", "StartWorkflowExecution") in methods
    assert ("OperatorService", "ListSearchAttributes") in methods
    # Methods without an annotation (worker polls) are not reachable over HTTP.
    assert ("WorkflowService", "PollWorkflowTaskQueue") not in methods
    assert len({m for _, m in methods}) > 100


def test_additional_bindings_are_routes_too() -> None:
    templates = {r.template for r in TABLE.routes if r.method == "DescribeNamespace"}
    assert templates == {"/cluster/namespaces/{namespace}", "/api/v1/namespaces/{namespace}"}


def test_nested_path_fields_bind() -> None:
    match = TABLE.match("GET", "/api/v1/namespaces/default/workflows/wf-1/history")
    assert match is not None
    assert match.route.method == "GetWorkflowExecutionHistory"
    assert match.params == {("namespace",): "default", ("execution", "workflow_id"): "wf-1"}


def test_a_literal_beats_a_variable_in_the_same_position() -> None:
    match = TABLE.match("GET", "/api/v1/namespaces/default/workflow-count")
    assert match is not None and match.route.method == "CountWorkflowExecutions"
    match = TABLE.match("GET", "/api/v1/namespaces/default/workflows/x")
    assert match is not None and match.route.method == "DescribeWorkflowExecution"


def test_segments_are_percent_decoded_after_the_split() -> None:
    match = TABLE.match("GET", "/api/v1/namespaces/default/workflows/orders%2F42%20x")
    assert match is not None
    assert match.params[("execution", "workflow_id")] == "orders/42 x"


def test_unknown_paths_and_wrong_methods() -> None:
    assert TABLE.match("GET", "/api/v1/nothing") is None
    assert TABLE.match("GET", "/api/v1/namespaces/default/workflows/x/history/more") is None
    assert TABLE.match("GET", "/api/v1/namespaces//workflows") is None
    with pytest.raises(MethodNotAllowed):
        TABLE.match("DELETE", "/api/v1/system-info")


def test_templates() -> None:
    assert parse_template("/a/{b.c}/d") == ("a", Variable(("b", "c")), "d")
    assert parse_template("/a/{rest=**}") == ("a", Variable(("rest",), rest=True))
    for bad in ("a/b", "/a/{x=b/*}", "/a/x{y}", "/a/{r=**}/b", "/a//b"):
        with pytest.raises(RouteTemplateError):
            parse_template(bad)


def test_query_parameters_take_proto_or_json_names_and_skip_path_fields() -> None:
    request = ListWorkflowExecutionsRequest(namespace="from-path")
    query = [("pageSize", "5"), ("query", "a=1"), ("namespace", "x"), ("pretty", "")]
    http_params.set_query_params(request, query, skip={("namespace",)})
    assert (request.namespace, request.page_size, request.query) == ("from-path", 5, "a=1")
    history = GetWorkflowExecutionHistoryRequest()
    http_params.set_query_params(
        history,
        [("execution.runId", "r1"), ("wait_new_event", "t"), ("historyEventFilterType", "2")],
        skip=set(),
    )
    assert history.execution.run_id == "r1" and history.wait_new_event
    assert history.history_event_filter_type == 2


def test_bad_query_values_are_refused() -> None:
    for query in ([("pageSize", "abc")], [("pageSize", "1"), ("pageSize", "2")]):
        with pytest.raises(http_params.ParamError):
            http_params.set_query_params(ListWorkflowExecutionsRequest(), query, skip=set())


def test_go_durations() -> None:
    request = StartWorkflowExecutionRequest()
    http_params.set_param(request, ["workflowRunTimeout"], ["1h2m3.5s"])
    assert request.workflow_run_timeout.ToTimedelta().total_seconds() == 3723.5
    http_params.set_param(request, ["workflow_task_timeout"], ["10s"])
    assert request.workflow_task_timeout.seconds == 10


def _json_payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def test_payloads_are_written_in_shorthand_when_all_can_be() -> None:
    payloads = Payloads(
        payloads=[_json_payload({"a": 1}), Payload(metadata={"encoding": b"binary/null"})]
    )
    info = StartWorkflowExecutionRequest(input=payloads)
    out = json_mapping.message_to_json(info)
    assert out["input"] == [{"a": 1}, {"metadata": {"encoding": "YmluYXJ5L251bGw="}}]
    plain = json_mapping.message_to_json(info, shorthand=False)
    assert plain["input"]["payloads"][0]["metadata"]["encoding"] == "anNvbi9wbGFpbg=="
    binary = Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00")
    mixed = json_mapping.message_to_json(
        StartWorkflowExecutionRequest(input=Payloads(payloads=[_json_payload(1), binary]))
    )
    assert isinstance(mixed["input"], dict)  # one payload without a shorthand: none


def test_shorthand_payloads_are_read_back() -> None:
    request = StartWorkflowExecutionRequest()
    body = {
        "input": [{"a": 1}, "x", None, {"m": 2, "_protoMessageType": "foo.Bar"}],
        "header": {"fields": {"h": {"k": True}}},
    }
    json_mapping.json_to_message(body, request)
    payloads = request.input.payloads
    assert json.loads(payloads[0].data) == {"a": 1}
    assert payloads[0].metadata["encoding"] == b"json/plain"
    assert payloads[1].data == b'"x"'
    assert payloads[2].metadata["encoding"] == b"binary/null"
    assert payloads[3].metadata == {"encoding": b"json/protobuf", "messageType": b"foo.Bar"}
    assert json.loads(payloads[3].data) == {"m": 2}
    assert json.loads(request.header.fields["h"].data) == {"k": True}


def test_a_standard_payload_stays_standard() -> None:
    request = StartWorkflowExecutionRequest()
    standard = {
        "metadata": {"encoding": base64.b64encode(b"binary/plain").decode()},
        "data": base64.b64encode(b"\x01\x02").decode(),
    }
    json_mapping.json_to_message({"input": {"payloads": [standard]}}, request)
    assert request.input.payloads[0].data == b"\x01\x02"


def test_camel_case_enum_values_are_accepted() -> None:
    info = WorkflowExecutionInfo()
    json_mapping.json_to_message({"status": "Running"}, info)
    assert info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    json_mapping.json_to_message({"status": "WORKFLOW_EXECUTION_STATUS_COMPLETED"}, info)
    assert info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED


def test_unknown_fields_and_bad_json_are_refused() -> None:
    with pytest.raises(json_mapping.JSONMappingError, match='unknown field "bogus"'):
        json_mapping.json_to_message({"bogus": 1}, StartWorkflowExecutionRequest())
    with pytest.raises(json_mapping.JSONMappingError):
        json_mapping.loads(b"{not json")


def test_bodies_that_are_no_object_are_refused() -> None:
    for body in (b"[1, 2]", b'"x"', b"null", b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(json_mapping.JSONMappingError):
            json_mapping.json_to_message(json_mapping.loads(body), StartWorkflowExecutionRequest())
    # Failure.cause nests: a body nested past the recursion limit is bad input.
    deep: dict[str, object] = {"message": "leaf"}
    for _ in range(5000):
        deep = {"message": "m", "cause": deep}
    with pytest.raises(json_mapping.JSONMappingError):
        json_mapping.json_to_message({"failure": deep}, RespondActivityTaskFailedRequest())


def test_grpc_timeout_header() -> None:
    from pytemporal.web.http_api import grpc_timeout

    assert grpc_timeout(None) is None
    assert grpc_timeout("10S") == 10
    assert grpc_timeout("500m") == 0.5
    assert grpc_timeout("2M") == 120
    for bad in ("", "S", "10", "1.5S", "10x"):
        with pytest.raises(ValueError):
            grpc_timeout(bad)


_ODD_JSON: list[object] = [
    None,
    True,
    -1,
    2**70,
    1.5,
    "",
    "x",
    "Running",
    [],
    [1, "a"],
    {},
    {"a": 1},
]
_ODD_TEXT = ["", "x", "-1", "1.5", "99999999999999999999999", "true", "1h", "2024-01-01T00:00:00Z"]


def test_any_value_for_any_field_builds_a_request_or_is_refused() -> None:
    """Every field of every routed request, given values of every JSON kind (body) and
    odd texts (query): the request is built or refused as bad input, nothing else."""
    for route in TABLE.routes:
        fields = route.request_type.DESCRIPTOR.fields
        for field in fields:
            for value in _ODD_JSON:
                with contextlib.suppress(json_mapping.JSONMappingError):
                    json_mapping.json_to_message({field.json_name: value}, route.request_type())
            for text in _ODD_TEXT:
                with contextlib.suppress(http_params.ParamError):
                    http_params.set_query_params(
                        route.request_type(), [(field.name, text), (field.json_name, text)], set()
                    )


def test_a_rest_of_path_variable_takes_the_remaining_segments() -> None:
    from pytemporal.web.http_routes import Route

    base = TABLE.routes[0]
    rest = Route(
        service=base.service,
        method="Rest",
        verb="GET",
        template="/files/{path=**}",
        segments=parse_template("/files/{path=**}"),
        body="",
        request_type=base.request_type,
        response_type=base.response_type,
    )
    table = RouteTable([*TABLE.routes, rest])
    match = table.match("GET", "/files/a/b%20c/d")
    assert match is not None and match.params == {("path",): "a/b c/d"}
    assert table.match("GET", "/files") is None
    assert table.match("GET", "/api/v1/system-info") is not None


def test_allowed_hosts_patterns() -> None:
    from pytemporal.web.http_api import hosts_pattern

    anything = hosts_pattern(("*",))
    assert anything.match("") and anything.match("evil.example:80")
    local = hosts_pattern(("localhost:*", "127.0.0.1:7243"))
    assert local.match("localhost:7243") and local.match("127.0.0.1:7243")
    assert not local.match("127.0.0.1:7244") and not local.match("evil.localhost:1")
    assert not hosts_pattern(("a.b",)).match("aXb")  # literal dots
