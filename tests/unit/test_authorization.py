"""Authorization's pure parts: the role table, permissions, token checks, config."""

from __future__ import annotations

import base64
import json
import random
import re
import string
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import CommandType
from temporalio.api.workflowservice.v1 import (
    ListNamespacesRequest,
    RespondWorkflowTaskCompletedRequest,
)

from jwtkeys import SigningKey, jwks
from pytemporal.cli.config_file import ConfigError, load_server_config
from pytemporal.config import AuthorizationConfig
from pytemporal.frontend import api_metadata as api
from pytemporal.frontend.authorization import _namespace_of, authorize, cross_namespace_calls
from pytemporal.frontend.jwt_claims import (
    ROLE_ADMIN,
    ROLE_READER,
    ROLE_WORKER,
    ROLE_WRITER,
    ClaimMapper,
    Claims,
    KeyProvider,
    TokenError,
    parse_permissions,
)

WF = api.WORKFLOW_SERVICE
OP = api.OPERATOR_SERVICE


def ns_claims(namespace: str, *roles: int) -> Claims:
    role = 0
    for r in roles:
        role |= r
    return Claims(subject="s", namespaces={namespace: role})


@pytest.mark.parametrize(
    ("method", "needed"),
    [
        ("DescribeWorkflowExecution", ROLE_READER),
        ("ListWorkflowExecutions", ROLE_READER),
        ("GetWorkflowExecutionHistory", ROLE_READER),
        ("QueryWorkflow", ROLE_READER),
        ("StartWorkflowExecution", ROLE_WRITER),
        ("PollWorkflowTaskQueue", ROLE_WRITER),
        ("RespondActivityTaskCompleted", ROLE_WRITER),
        ("SignalWorkflowExecution", ROLE_WRITER),
        ("UpdateNamespace", ROLE_ADMIN),
        ("RegisterNamespace", ROLE_ADMIN),
    ],
)
def test_namespace_api_needs_its_role_in_that_namespace(method: str, needed: int) -> None:
    for role in (ROLE_WORKER, ROLE_READER, ROLE_WRITER, ROLE_ADMIN):
        assert authorize(ns_claims("a", role), WF + method, "a") is (role >= needed), role
        assert not authorize(ns_claims("a", role), WF + method, "b")
    # System roles reach every namespace.
    assert authorize(Claims(system=needed), WF + method, "any")
    assert not authorize(Claims(system=needed >> 1), WF + method, "any")


def test_worker_role_alone_grants_nothing_as_in_temporals_default_authorizer() -> None:
    # Temporal compares role bitmasks as integers: worker (1) < reader (2).
    worker = ns_claims("a", ROLE_WORKER)
    for method in ("PollWorkflowTaskQueue", "PollActivityTaskQueue", "DescribeNamespace"):
        assert not authorize(worker, WF + method, "a")
    assert authorize(ns_claims("a", ROLE_WORKER, ROLE_WRITER), WF + "PollActivityTaskQueue", "a")


def test_worker_role_option_grants_the_worker_apis_only() -> None:
    worker = ns_claims("a", ROLE_WORKER)
    for method in ("PollWorkflowTaskQueue", "RespondActivityTaskFailedById", "ShutdownWorker"):
        assert authorize(worker, WF + method, "a", worker_role_tasks=True)
        assert not authorize(worker, WF + method, "b", worker_role_tasks=True)
    for method in ("StartWorkflowExecution", "SignalWorkflowExecution", "QueryWorkflow"):
        assert not authorize(worker, WF + method, "a", worker_role_tasks=True)
    assert authorize(
        Claims(system=ROLE_WORKER), WF + "PollActivityTaskQueue", "x", worker_role_tasks=True
    )
    assert not authorize(
        Claims(system=ROLE_WORKER), WF + "ListNamespaces", "", worker_role_tasks=True
    )
    assert {
        WF + name for name, m in api._WORKFLOW_SERVICE.items() if m.scope is api.Scope.NAMESPACE
    } >= api.WORKER_APIS


def test_cluster_apis_need_a_system_role() -> None:
    admin_of_a = ns_claims("a", ROLE_ADMIN)
    assert not authorize(admin_of_a, WF + "ListNamespaces", "a")
    assert authorize(Claims(system=ROLE_READER), WF + "ListNamespaces", "")
    assert authorize(Claims(system=ROLE_READER), WF + "GetClusterInfo", "")
    assert not authorize(Claims(system=ROLE_WRITER), OP + "ListClusters", "")
    assert authorize(Claims(system=ROLE_ADMIN), OP + "ListClusters", "")


def test_operator_search_attributes_are_namespace_admin_apis() -> None:
    assert authorize(ns_claims("a", ROLE_READER), OP + "ListSearchAttributes", "a")
    assert not authorize(ns_claims("a", ROLE_WRITER), OP + "AddSearchAttributes", "a")
    assert authorize(ns_claims("a", ROLE_ADMIN), OP + "AddSearchAttributes", "a")


def test_health_checks_need_nothing_and_unknown_methods_are_refused() -> None:
    assert authorize(None, WF + "GetSystemInfo", "")
    assert authorize(None, api.HEALTH_CHECK, "")
    assert not authorize(None, WF + "DescribeNamespace", "default")
    assert not authorize(Claims(system=ROLE_ADMIN), WF + "NoSuchMethod", "a")
    assert not authorize(Claims(system=ROLE_ADMIN), "/other.Service/Call", "a")
    assert authorize(Claims(system=ROLE_ADMIN), api.ADMIN_SERVICE + "DescribeCluster", "")


def test_permissions_claim_parsing() -> None:
    system, namespaces = parse_permissions(
        [
            "temporal-system:admin",
            "orders:READ",
            "orders:worker",
            "billing:write",
            "no-colon",
            42,
            "odd:role",
            "url:https://x:write",
        ]
    )
    assert system == ROLE_ADMIN
    assert namespaces == {
        "orders": ROLE_READER | ROLE_WORKER,
        "billing": ROLE_WRITER,
        "odd": 0,
        "url": 0,
    }
    pattern = re.compile(r"^(?P<role>\w+)@(?P<namespace>[\w-]+)$")
    assert parse_permissions(["admin@orders", "orders:read"], pattern) == (
        0,
        {"orders": ROLE_ADMIN},
    )


class Keys:
    """JWKS documents served from memory, counting reads."""

    def __init__(self, *keys: SigningKey) -> None:
        self.document = jwks(*keys)
        self.reads = 0
        self.now = 0.0

    def read(self, uri: str) -> bytes:
        self.reads += 1
        return self.document


async def mapper(keys: Keys, **config: object) -> ClaimMapper:
    provider = KeyProvider(["mem://"], 0, read=keys.read, clock=lambda: keys.now)
    await provider.start()
    return ClaimMapper(AuthorizationConfig(key_source_uris=["mem://"], **config), provider)  # type: ignore[arg-type]


async def test_valid_tokens_of_both_algorithms_give_their_claims() -> None:
    rs, es = SigningKey.rsa("r1"), SigningKey.ec("e1")
    m = await mapper(Keys(rs, es))
    claims = await m.claims("Bearer " + rs.token(["orders:write"], sub="alice"))
    assert (claims.subject, claims.namespaces, claims.system) == ("alice", {"orders": 4}, 0)
    claims = await m.claims("bearer " + es.token(["temporal-system:read"]))
    assert claims.system == ROLE_READER


async def test_custom_claim_name_and_audience() -> None:
    key = SigningKey.ec("e1")
    m = await mapper(Keys(key), permissions_claim_name="roles", audience="temporal")
    claims = await m.claims("Bearer " + key.token(roles=["a:read"], aud="temporal"))
    assert claims.namespaces == {"a": ROLE_READER}
    with pytest.raises(TokenError, match="(?i)audience"):
        await m.claims("Bearer " + key.token(roles=["a:read"], aud="other"))
    with pytest.raises(TokenError, match="aud"):
        await m.claims("Bearer " + key.token(roles=["a:read"]))
    # Without a configured audience, a token's `aud` is not checked (as Temporal).
    m = await mapper(Keys(key))
    assert (await m.claims("Bearer " + key.token(["a:read"], aud="whatever"))).namespaces


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer", "unexpected authorization token format"),
        ("Basic abc", "unexpected name"),
        ("Bearer not.a.jwt", "malformed"),
        ("Bearer garbage", "malformed"),
    ],
)
async def test_malformed_headers_are_refused(header: str, reason: str) -> None:
    m = await mapper(Keys(SigningKey.ec("e1")))
    with pytest.raises(TokenError, match=reason):
        await m.claims(header)


async def test_bad_tokens_are_refused() -> None:
    key, other = SigningKey.rsa("r1"), SigningKey.rsa("r2")
    keys = Keys(key)
    m = await mapper(keys)
    with pytest.raises(TokenError, match="expired"):
        await m.claims("Bearer " + key.token(["a:read"], lifetime=-10))
    with pytest.raises(TokenError, match="Signature verification failed"):
        await m.claims("Bearer " + other.token(["a:read"], kid="r1"))
    with pytest.raises(TokenError, match="sub"):
        await m.claims("Bearer " + key.token(["a:read"], sub=None))
    with pytest.raises(TokenError, match="not yet valid"):
        await m.claims("Bearer " + key.token(["a:read"], nbf=2**40))
    import jwt

    hs = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": "r1"})
    with pytest.raises(TokenError, match="HS256"):
        await m.claims("Bearer " + hs)
    none = jwt.encode({"sub": "x"}, None, algorithm="none", headers={"kid": "r1"})
    with pytest.raises(TokenError, match="none"):
        await m.claims("Bearer " + none)
    # An EC token naming an RSA key id finds no EC key of that id.
    with pytest.raises(TokenError, match="EC key not found"):
        await m.claims("Bearer " + SigningKey.ec("r1").token(["a:read"]))


async def test_unknown_kid_reloads_the_keys_at_most_every_few_seconds() -> None:
    old, new = SigningKey.rsa("old"), SigningKey.rsa("new")
    keys = Keys(old)
    m = await mapper(keys)
    assert keys.reads == 1
    keys.document = jwks(old, new)
    # Right after a load, an unknown kid does not load again (rate limit)...
    with pytest.raises(TokenError, match="RSA key not found for key ID: new"):
        await m.claims("Bearer " + new.token(["a:read"]))
    assert keys.reads == 1
    # ...later it does, and the rotated-in key is found.
    keys.now += 60
    assert (await m.claims("Bearer " + new.token(["a:read"]))).namespaces == {"a": ROLE_READER}
    assert keys.reads == 2
    for _ in range(3):
        with pytest.raises(TokenError):
            await m.claims("Bearer " + new.token(["a:read"], kid="made-up"))
    assert keys.reads == 2


async def test_a_failed_reload_keeps_the_old_keys() -> None:
    key = SigningKey.ec("e1")
    keys = Keys(key)
    m = await mapper(keys)
    keys.document = b"not json"
    await m.keys.reload()
    assert (await m.claims("Bearer " + key.token(["a:read"]))).subject == "tester"


AUTH = """
persistence: {sqlite_path: /tmp/x.db}
authorization:
  jwtKeyProvider:
    keySourceURIs: [file:///etc/jwks.json, https://idp/jwks]
    refreshInterval: 5m
  permissionsClaimName: roles
  audience: temporal
  authorizer: default
  claimMapper: default
"""


def test_config_file_authorization_section(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(AUTH)
    auth = load_server_config(str(path), {}).authorization
    assert auth == AuthorizationConfig(
        key_source_uris=["file:///etc/jwks.json", "https://idp/jwks"],
        refresh_interval=300.0,
        permissions_claim_name="roles",
        audience="temporal",
    )
    path.write_text("persistence: {sqlite_path: /tmp/x.db}\n")
    assert load_server_config(str(path), {}).authorization is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{authorizer: custom}", "authorizer: only `default`"),
        (
            "{jwtKeyProvider: {keySourceURIs: ['file:///k']}, workerRoleTaskAPIs: 1}",
            "true or false",
        ),
        ("{jwtKeyProvider: {keySourceURIs: []}}", "keySourceURIs"),
        ("{jwtKeyProvider: {keySourceURIs: ['ftp://x']}}", "not a file, http or https URI"),
        (
            "{jwtKeyProvider: {keySourceURIs: ['file:///k'], refreshInterval: soon}}",
            "refreshInterval",
        ),
        ("{jwtKeyProvider: {keySourceURIs: ['file:///k']}, permissionsRegex: '(?P<x>)'}", "named"),
        ("{jwtKeyProvider: {keySourceURIs: ['file:///k']}, audiences: x}", "unknown setting"),
    ],
)
def test_config_file_authorization_errors(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"persistence: {{sqlite_path: /tmp/x.db}}\nauthorization: {section}\n")
    with pytest.raises(ConfigError, match=message):
        load_server_config(str(path), {})


def test_cross_namespace_commands_are_found_in_workflow_task_completions() -> None:
    request = RespondWorkflowTaskCompletedRequest(namespace="a")
    kinds = [
        (CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION, "signal_external", "b"),
        (CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION, "start_child", "c"),
        (
            CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION,
            "request_cancel_external",
            "b",
        ),
        (CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION, "start_child", "a"),  # same
        (CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION, "start_child", ""),  # same
    ]
    for command_type, name, target in kinds:
        command = request.commands.add(command_type=command_type)
        attrs = getattr(command, f"{name}_workflow_execution_command_attributes")
        attrs.namespace = target
    path = WF + "RespondWorkflowTaskCompleted"
    assert cross_namespace_calls(path, request, "a") == {
        ("SignalWorkflowExecution", "b"),
        ("StartWorkflowExecution", "c"),
        ("RequestCancelWorkflowExecution", "b"),
    }
    assert cross_namespace_calls(WF + "RespondWorkflowTaskFailed", request, "a") == set()


def test_the_checked_namespace_is_the_requests_namespace_field() -> None:
    assert _namespace_of(RespondWorkflowTaskCompletedRequest(namespace="x")) == "x"
    assert _namespace_of(ListNamespacesRequest()) == ""


def _segment(data: object) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_odd_headers_and_tokens_are_token_errors_and_nothing_else() -> None:
    key = SigningKey.rsa("r1")
    m = await mapper(Keys(key))
    good = key.token(["a:read"])
    header, payload, signature = good.split(".")
    odd_headers: list[object] = [
        [],
        "x",
        {"alg": ["RS256"], "kid": "r1"},
        {"alg": "RS256", "kid": 5},
        {"alg": "RS256"},
        {"alg": "ES256", "kid": "r1"},
        {"alg": "RS256", "kid": "r1", "crit": ["exp"]},
        b"\xff\xfe",
    ]
    tokens = [".".join([_segment(h), payload, signature]) for h in odd_headers]
    tokens += [
        ".".join([header, _segment(p), signature])
        for p in ([], "x", {"sub": "s", "exp": "soon"}, {"sub": "s", "permissions": "a:read"})
    ]
    rng = random.Random(8)
    alphabet = string.printable + "é\u2028"
    tokens += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(60))) for _ in range(200)]
    tokens += [good[:i] for i in range(0, len(good), 7)]
    for token in tokens:
        try:
            claims = await m.claims("Bearer " + token)
        except TokenError:
            continue
        # Only a validly signed token gets through: a string permissions claim grants nothing.
        assert claims.namespaces == {} and claims.system == 0, token


def test_optional_regex_groups_grant_nothing() -> None:
    pattern = re.compile(r"^(?P<namespace>\w+)?:(?P<role>\w+)?$")
    assert parse_permissions([":read", "a:"], pattern) == (0, {"": ROLE_READER, "a": 0})
