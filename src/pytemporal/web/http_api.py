"""Temporal's HTTP API (`/api/v1/...`): JSON over HTTP for every annotated RPC.

One handler serves every route (web/http_routes.py): it builds the request message
from the body, the path and the query (web/json_mapping.py, web/http_params.py),
calls this process's own public gRPC port through `channel` with the caller's
credentials, and answers the response as JSON. Errors are a `google.rpc.Status` in
JSON with grpc-gateway's status-to-HTTP mapping, as Temporal's server answers them.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import Message
from google.rpc import status_pb2  # type: ignore[import-untyped]

from pytemporal import __version__
from pytemporal.common import dynamic_config as dc
from pytemporal.common import health as health_mod
from pytemporal.config import ServerConfig
from pytemporal.web import http_params, https, json_mapping
from pytemporal.web.channel import frontend_channel
from pytemporal.web.http_routes import Match, MethodNotAllowed, RouteTable, temporal_routes

log = logging.getLogger(__name__)

# Temporal's rpc.MaxHTTPAPIRequestBytes (gRPC's default receive limit).
MAX_REQUEST_BYTES = 4 * 1024 * 1024
# The web UI's session cookie: a bearer token, sent on as `authorization`.
TOKEN_COOKIE = "pytemporal-token"
CLIENT_NAME = "temporal-server-http"

# grpc-gateway's runtime.HTTPStatusFromCode.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
# Headers Temporal sends on as gRPC metadata besides the authorization header
# (http_api_server.go defaultForwardedHeaders).
_FORWARDED = ("authorization-extras", "client-name", "client-version")
_METADATA_PREFIX = "grpc-metadata-"  # grpc-gateway: Grpc-Metadata-Foo -> foo
# Metadata gRPC itself owns: sending them is refused by the gRPC core.
_RESERVED = {"te", "content-type", "user-agent", "host", "connection"}
_KEY = re.compile(r"[0-9a-z_.-]+")
_VALUE = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True)
class Options:
    # The header the authorizer reads the token from (authorization.authHeaderName).
    auth_header: str = "authorization"
    # frontend.httpAllowedHosts: wildcard patterns of the Host header.
    allowed_hosts: tuple[str, ...] = ("*",)


def hosts_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Temporal's WildCardStringsToRegexp: `*` is any substring, the rest literal."""
    alternatives = (
        "(" + ".*".join(re.escape(p) for p in pattern.split("*")) + ")" for pattern in patterns
    )
    return re.compile("^(?:" + "|".join(alternatives) + ")$", re.DOTALL)


# Written as Temporal's allowedHostsMiddleware writes it, byte for byte.
_HOST_NOT_ALLOWED = '{"code": 7, "message": "Host not allowed"}'


@dataclass(frozen=True)
class Format:
    """One of Temporal's four JSON marshalers (http_api_server.go)."""

    pretty: bool = False
    shorthand: bool = True


# By MIME type; any other type is the default (compact, with the payload shorthand).
_FORMATS = {
    "application/json+pretty+no-payload-shorthand": Format(pretty=True, shorthand=False),
    "application/json+no-payload-shorthand": Format(pretty=False, shorthand=False),
    "application/json+pretty": Format(pretty=True, shorthand=True),
}


def formats(request: web.Request) -> tuple[Format, Format]:
    """(how the body is read, how the answer is written), as grpc-gateway picks its
    marshalers: the body's by Content-Type, the answer's by Accept, else the body's.
    `?pretty` and `?noPayloadShorthand` set the Accept header (Temporal's serveHTTP),
    so they change the answer only."""
    suffix = "+pretty" if "pretty" in request.query else ""
    if "noPayloadShorthand" in request.query:
        suffix += "+no-payload-shorthand"
    accepts = [f"application/json{suffix}"] if suffix else request.headers.getall("Accept", [])
    content_types = [v.split(";", 1)[0].strip() for v in request.headers.getall("Content-Type", [])]
    inbound = next((_FORMATS[t] for t in content_types if t in _FORMATS), Format())
    outbound = next((_FORMATS[a] for a in accepts if a in _FORMATS), inbound)
    return inbound, outbound


class _Failure(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _status_json(
    code: grpc.StatusCode, message: str, shorthand: bool, details: bytes | None = None
) -> Any:
    status = status_pb2.Status()
    if details:
        try:
            status.ParseFromString(details)
        except Exception:  # noqa: BLE001 - a malformed trailer: keep code and message
            status.Clear()
    status.code = code.value[0]
    status.message = message
    return json_mapping.message_to_json(status, shorthand=shorthand)


def _error(
    code: grpc.StatusCode, message: str, out: Format, details: bytes | None = None
) -> web.Response:
    body = json_mapping.dumps(
        _status_json(code, message, out.shorthand, details), pretty=out.pretty
    )
    return web.Response(
        text=body, status=HTTP_STATUS.get(code, 500), content_type="application/json"
    )


def _cookie_usable(request: web.Request) -> bool:
    """Whether a request may be authorized by the UI's cookie, which the browser adds
    by itself: not to a POST another page on this host could send without a CORS
    preflight (a form or text/plain), so that no such page acts with the operator's
    token. A JSON body needs a preflight, which this API never grants."""
    if request.method in ("GET", "HEAD"):
        return True
    media_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return media_type.startswith("application/json")


def _credentials(request: web.Request, options: Options) -> list[tuple[str, str]]:
    """The caller's token: its authorization header(s), else the UI's session cookie."""
    names = {"authorization", options.auth_header.lower()}
    given = [(name, request.headers[name]) for name in sorted(names) if name in request.headers]
    token = request.cookies.get(TOKEN_COOKIE)
    if given or not token or not _cookie_usable(request):
        return given
    value = token if token.lower().startswith("bearer ") else f"Bearer {token}"
    return [(options.auth_header.lower(), value)]


def _forwarded(request: web.Request) -> list[tuple[str, str]]:
    headers = request.headers
    out = [(name, v) for name in _FORWARDED for v in headers.getall(name, [])]
    # grpc-gateway's annotateContext: where the call came from.
    host = headers.get("X-Forwarded-Host") or request.host
    out.append(("x-forwarded-host", host))
    chain = [v for v in (headers.get("X-Forwarded-For"), request.remote) if v]
    if chain:
        out.append(("x-forwarded-for", ", ".join(chain)))
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith(_METADATA_PREFIX) and not lower.endswith("-bin"):
            out.append((lower[len(_METADATA_PREFIX) :], value))
    return out


def _metadata(request: web.Request, options: Options) -> list[tuple[str, str]]:
    """What grpc-gateway would send on; gRPC's own names are dropped, and a value gRPC
    cannot carry (not printable ASCII) is the caller's error."""
    metadata = [*_credentials(request, options), *_forwarded(request)]
    for key, value in metadata:
        if not _VALUE.fullmatch(value):
            raise _Failure(grpc.StatusCode.INVALID_ARGUMENT, f"invalid value of header {key!r}")
    metadata = [
        (k, v)
        for k, v in metadata
        if _KEY.fullmatch(k) and not k.startswith("grpc-") and k not in _RESERVED
    ]
    given = {k for k, _ in metadata}
    if "client-name" not in given:
        metadata.append(("client-name", CLIENT_NAME))
    if "client-version" not in given:
        metadata.append(("client-version", __version__))
    return metadata


async def _build_request(request: web.Request, match: Match, shorthand: bool) -> Message:
    route = match.route
    message = route.request_type()
    if route.body:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Failure(
                grpc.StatusCode.INVALID_ARGUMENT, "http: request body too large"
            ) from None
        if body.strip():
            obj = json_mapping.loads(body)
            target = message if route.body == "*" else getattr(message, route.body)
            json_mapping.json_to_message(obj, target, shorthand=shorthand)
    else:
        skip = route.path_fields
        http_params.set_query_params(message, request.query.items(), skip)
    http_params.set_path_params(message, match.params)
    return message


class HttpApi:
    def __init__(self, channel: grpc.aio.Channel, options: Options | None = None) -> None:
        self.channel = channel
        self.options = options or Options()
        self.table = RouteTable(temporal_routes())
        self.allowed_hosts = hosts_pattern(self.options.allowed_hosts)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except web.HTTPException:
            raise
        except Exception:
            # A bug of ours: still Temporal's error shape, never an HTML page.
            log.exception("HTTP API %s %s failed", request.method, request.path)
            return _error(grpc.StatusCode.INTERNAL, "internal error", formats(request)[1])

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        inbound, out = formats(request)
        try:
            match = self.table.match(request.method, request.raw_path.split("?", 1)[0])
        except MethodNotAllowed:
            return _error(grpc.StatusCode.UNIMPLEMENTED, "Method Not Allowed", out)
        if match is None:
            return _error(grpc.StatusCode.NOT_FOUND, "Not Found", out)
        if not self.allowed_hosts.match(request.headers.get("Host", "")):
            return web.Response(status=403, text=_HOST_NOT_ALLOWED)
        try:
            message = await _build_request(request, match, inbound.shorthand)
        except _Failure as e:
            return _error(e.code, e.message, out)
        except (json_mapping.JSONMappingError, http_params.ParamError) as e:
            return _error(grpc.StatusCode.INVALID_ARGUMENT, str(e), out)
        return await self._call(request, match, message, out)

    async def _call(
        self,
        request: web.Request,
        match: Match,
        message: Message,
        out: Format,
    ) -> web.Response:
        route = match.route
        stub = self.channel.unary_unary(
            route.full_method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=route.response_type.FromString,
        )
        try:
            timeout = grpc_timeout(request.headers.get("Grpc-Timeout"))
        except ValueError as e:
            return _error(grpc.StatusCode.INVALID_ARGUMENT, str(e), out)
        try:
            metadata = _metadata(request, self.options)
        except _Failure as e:
            return _error(e.code, e.message, out)
        call = stub(message, metadata=metadata, timeout=timeout)
        try:
            response = await call
            headers = _response_headers(await call.initial_metadata())
        except grpc.aio.AioRpcError as e:
            return _error(e.code(), e.details() or "", out, _status_details(e.trailing_metadata()))
        body = json_mapping.dumps(
            json_mapping.message_to_json(response, shorthand=out.shorthand), pretty=out.pretty
        )
        return web.Response(text=body, content_type="application/json", headers=headers)


_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def grpc_timeout(value: str | None) -> float | None:
    """grpc-gateway's `Grpc-Timeout` header (gRPC's form: `10S`, `500m`) in seconds."""
    if value is None:
        return None
    digits, unit = value[:-1], value[-1:]
    if not digits.isdigit() or unit not in _TIMEOUT_UNITS:
        raise ValueError(f"invalid Grpc-Timeout: {value!r}")
    return int(digits) * _TIMEOUT_UNITS[unit]


def _response_headers(metadata: Any) -> dict[str, str]:
    # grpc-gateway's default: the response's header metadata as Grpc-Metadata-<key>.
    return {
        f"Grpc-Metadata-{key}": value
        for key, value in metadata or ()
        if isinstance(value, str) and not key.startswith(":")
    }


def _status_details(trailers: Any) -> bytes | None:
    for key, value in trailers or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            return value
    return None


def build_app(
    channel: grpc.aio.Channel,
    health: health_mod.Health,
    options: Options | None = None,
) -> web.Application:
    api = HttpApi(channel, options)
    # Past the limit, reading the body raises, and the handler answers Temporal's 400.
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.add_routes(health_mod.http_routes(health))
    app.router.add_route("*", "/{tail:.*}", api.handle)
    return app


async def start(
    app: web.Application,
    ip: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    shutdown_grace: float,
) -> tuple[web.AppRunner, str]:
    """Serve `app`; the runner (cleanup() stops it, letting requests in flight finish
    for `shutdown_grace` seconds: long polls never finish by themselves) and the bound
    ip:port."""
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_grace
    )
    await runner.setup()
    site = web.TCPSite(runner, ip, port, ssl_context=ssl_context, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise OSError(f"cannot listen on {ip}:{port} (HTTP API): {e}") from e
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, f"{ip}:{bound}"


class HttpApiServer:
    """The HTTP API's listener, as `serve()` runs it."""

    def __init__(self, runner: web.AppRunner, channel: grpc.aio.Channel, address: str) -> None:
        self._runner = runner
        self._channel = channel
        self.address = address

    @classmethod
    async def start(
        cls, config: ServerConfig, frontend_address: str, health: health_mod.Health
    ) -> HttpApiServer:
        """Listen on config.http_ip (default: the gRPC ip) and config.http_port;
        `frontend_address` is where to call the frontend (channel.Loopback.bind)."""
        if config.http_port is None:
            raise ValueError("the HTTP API needs config.http_port")
        auth = config.authorization
        values, _ = dc.DynamicConfig.from_values(config.dynamic_config)
        options = Options(
            auth_header=auth.auth_header_name if auth else "authorization",
            allowed_hosts=values.get(dc.FRONTEND_HTTP_ALLOWED_HOSTS),
        )
        context = https.server_context(config.tls.frontend)
        channel = frontend_channel(frontend_address, config.tls.frontend)
        app = build_app(channel, health, options)
        try:
            ip = config.http_ip or config.ip
            runner, address = await start(app, ip, config.http_port, context, config.shutdown_grace)
        except BaseException:
            await channel.close()
            raise
        log.info("HTTP API listening on %s", address)
        return cls(runner, channel, address)

    async def close(self) -> None:
        await self._runner.cleanup()
        await self._channel.close()
