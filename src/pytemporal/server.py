"""Composition root: build the store and the roles, serve gRPC, run the loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from temporalio.api.operatorservice.v1 import service_pb2 as operator_pb
from temporalio.api.operatorservice.v1 import service_pb2_grpc as operator_grpc
from temporalio.api.testservice.v1 import service_pb2 as test_pb
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_pb
from temporalio.api.workflowservice.v1 import service_pb2_grpc as workflow_grpc

from pytemporal.batch.operations import BatchTargets
from pytemporal.batch.runner import Batcher
from pytemporal.cluster.membership import ClusterConfigError, ShardCluster
from pytemporal.common import dynamic_config as dc
from pytemporal.common import tls
from pytemporal.common.clock import Clock
from pytemporal.common.errors import NamespaceNotFound
from pytemporal.common.health import Health, State
from pytemporal.config import ServerConfig, internode_auth_problem
from pytemporal.deployments.registry import Deployments
from pytemporal.frontend import ratelimit, routing, unimplemented, visibility_service
from pytemporal.frontend.cluster_rpcs import ClusterInfo, cluster_id, store_name
from pytemporal.frontend.health_service import HealthService, ServingGate, enable_reflection
from pytemporal.frontend.operator_service import OperatorService
from pytemporal.frontend.schedule_service import ScheduleService
from pytemporal.frontend.workflow_service import FrontendLimits, WorkflowService
from pytemporal.history.client import LocalHistoryClient
from pytemporal.history.engine import HistoryEngine, Limits
from pytemporal.history.public import LocalPublicHistory
from pytemporal.history.public_activities import LocalActivityExecutions
from pytemporal.history.public_admin import LocalWorkflowAdmin
from pytemporal.history.transfer import TransferProcessor
from pytemporal.history.workflow.limits import WorkflowLimits
from pytemporal.matching.client import LocalMatchingClient
from pytemporal.matching.queues import Matching
from pytemporal.metrics import Metrics
from pytemporal.metrics.families import UNKNOWN_NAMESPACE
from pytemporal.metrics.interceptor import ServiceMetricsInterceptor
from pytemporal.metrics.store import metered
from pytemporal.namespace_deletion import NamespaceDeleter
from pytemporal.namespaces import NamespaceRegistry
from pytemporal.persistence import urls
from pytemporal.persistence.factory import open_store
from pytemporal.persistence.urls import sqlite_url
from pytemporal.rpc.auth import SecretInterceptor, secret_metadata
from pytemporal.rpc.redirector import Redirector
from pytemporal.rpc.remote import Channels
from pytemporal.rpc.service import InternalService
from pytemporal.scheduler.actions import Actions
from pytemporal.scheduler.runtime import Scheduler
from pytemporal.timeskipping import service as test_service
from pytemporal.timeskipping.clock import SkippingClock
from pytemporal.timeskipping.skipper import Skipper, SkippingInterceptor
from pytemporal.web.channel import Loopback

if TYPE_CHECKING:
    from pytemporal.web.http_api import HttpApiServer
    from pytemporal.web.ui import UIServer

log = logging.getLogger(__name__)

WORKFLOW_SERVICE = workflow_pb.DESCRIPTOR.services_by_name["WorkflowService"].full_name
OPERATOR_SERVICE = operator_pb.DESCRIPTOR.services_by_name["OperatorService"].full_name
TEST_SERVICE = test_pb.DESCRIPTOR.services_by_name["TestService"].full_name

# Responses: the client's own receive limit applies; pages are bounded upstream.
MAX_SEND_MESSAGE = 128 * 1024 * 1024


def _grpc_options(values: dc.DynamicConfig) -> list[tuple[str, Any]]:
    return [
        # gRPC refuses a larger request from its length prefix (RESOURCE_EXHAUSTED).
        ("grpc.max_receive_message_length", values.get(dc.MAX_RECEIVE_MESSAGE_SIZE)),
        ("grpc.max_send_message_length", MAX_SEND_MESSAGE),
        # Without BDP probing the receive windows stay small, so a refused request's
        # bytes are not buffered first: memory stays flat under oversized requests
        # (bench/oversized.py).
        ("grpc.http2.bdp_probe", 0),
        ("grpc.so_reuseport", 0),
    ]


def _has_web(config: ServerConfig) -> bool:
    return config.http_port is not None or not config.headless


def _dynamic_config(config: ServerConfig) -> dc.DynamicConfig:
    values, unknown = dc.DynamicConfig.from_values(config.dynamic_config)
    for key in unknown:
        log.info("ignoring unknown dynamic config key %s", key)
    return values


def _limits(values: dc.DynamicConfig) -> Limits:
    workflow = WorkflowLimits(
        pending_activities=values.get(dc.NUM_PENDING_ACTIVITIES_LIMIT),
        pending_children=values.get(dc.NUM_PENDING_CHILD_EXECUTIONS_LIMIT),
        pending_signals=values.get(dc.NUM_PENDING_SIGNALS_LIMIT),
        pending_cancels=values.get(dc.NUM_PENDING_CANCEL_REQUESTS_LIMIT),
        history_count_error=values.get(dc.HISTORY_COUNT_LIMIT_ERROR),
        history_size_error=values.get(dc.HISTORY_SIZE_LIMIT_ERROR),
        history_count_warn=values.get(dc.HISTORY_COUNT_LIMIT_WARN),
        history_size_warn=values.get(dc.HISTORY_SIZE_LIMIT_WARN),
        suggest_can_events=values.get(dc.HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW),
        suggest_can_bytes=values.get(dc.HISTORY_SIZE_SUGGEST_CONTINUE_AS_NEW),
        blob_size_error=values.get(dc.BLOB_SIZE_LIMIT_ERROR),
        blob_size_warn=values.get(dc.BLOB_SIZE_LIMIT_WARN),
    )
    return Limits(
        blob_size=values.get(dc.BLOB_SIZE_LIMIT_ERROR),
        max_buffered_queries=values.get(dc.MAX_BUFFERED_QUERY_COUNT),
        workflow=workflow,
        cache_max_count=values.get(dc.HISTORY_CACHE_MAX_SIZE),
        cache_max_bytes=values.get(dc.HISTORY_CACHE_MAX_SIZE_BYTES),
        eager_workflow_start=values.get(dc.ENABLE_EAGER_WORKFLOW_START),
        eager_activities=values.get(dc.ENABLE_ACTIVITY_EAGER_EXECUTION),
    )


def _credentials(server_tls: tls.ServerTLS | None) -> grpc.ServerCredentials | None:
    return tls.server_credentials(server_tls) if server_tls is not None else None


def _listen(
    server: grpc.aio.Server, ip: str, port: int, credentials: grpc.ServerCredentials | None
) -> str:
    """Bind `server` (with TLS when given credentials); the address it listens on."""
    try:
        if credentials is None:
            bound = server.add_insecure_port(f"{ip}:{port}")
        else:
            bound = server.add_secure_port(f"{ip}:{port}", credentials)
    except RuntimeError as e:  # grpcio reports a failed bind this way
        raise OSError(f"cannot listen on {ip}:{port}: {e}") from e
    return f"{ip}:{bound}"


def _internode_auth(config: ServerConfig) -> list[grpc.aio.ServerInterceptor]:
    if config.internode.secret:
        return [SecretInterceptor(config.internode.secret)]
    if config.tls.internode is None:
        log.warning(
            "the internode listener on %s is UNAUTHENTICATED: whoever reaches it can act"
            " on every workflow. Set cluster.secret or tls.internode",
            config.internode.ip,
        )
    return []


def _peer_channels(config: ServerConfig) -> Channels | None:
    if not config.cluster:
        return None
    internode = config.tls.internode
    return Channels(
        credentials=tls.channel_credentials(internode) if internode else None,
        metadata=secret_metadata(config.internode.secret),
        options=tls.channel_options(internode),
    )


def _internode_listener(
    config: ServerConfig,
    options: list[tuple[str, Any]],
    credentials: grpc.ServerCredentials | None,
    router: routing.Router,
    workflow_service: WorkflowService,
    operator_service: OperatorService,
    internal_service: InternalService,
) -> tuple[grpc.aio.Server, str]:
    """The listener other processes call (typed internal calls, and the public calls
    they forward, served by the same handlers), and the address to advertise for it.
    Nothing of this is on the public port."""
    server = grpc.aio.server(
        interceptors=[*_internode_auth(config), routing.RoutingInterceptor(router, forward=False)],
        options=options,
    )
    workflow_grpc.add_WorkflowServiceServicer_to_server(workflow_service, server)
    operator_grpc.add_OperatorServiceServicer_to_server(operator_service, server)
    server.add_generic_rpc_handlers(internal_service.handlers())
    node = config.internode
    host, _, port = _listen(server, node.ip, node.port, credentials).rpartition(":")
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    return server, node.advertise_address or f"{host}:{port}"


def _cluster_info(config: ServerConfig, namespaces: NamespaceRegistry) -> ClusterInfo:
    dialect = store_name(urls.parse(config.database_url or sqlite_url(config.db_filename)).dialect)
    return ClusterInfo(
        cluster_id=cluster_id(namespaces.get("default").id),
        history_shard_count=config.num_history_shards if config.cluster else 1,
        persistence_store=dialect,
        visibility_store=dialect,
    )


def _fill_unimplemented(workflow: WorkflowService, operator: OperatorService) -> None:
    unimplemented.fill(workflow, workflow_grpc.WorkflowServiceServicer, "WorkflowService")
    unimplemented.fill(operator, operator_grpc.OperatorServiceServicer, "OperatorService")


async def _start_ui(
    config: ServerConfig, frontend_address: str, health: Health
) -> tuple[UIServer, str] | None:
    """The web UI's listener (docs/ui.md) and its address, unless headless.
    `frontend_address` is where it calls the frontend (web.channel.Loopback)."""
    if config.headless:
        return None
    # Imported on use: jinja2 and the pages weigh on every headless start.
    from pytemporal.web.ui import UIServer

    auth = config.authorization
    ui = UIServer(
        frontend_address,
        health,
        frontend_tls=config.tls.frontend,
        auth_required=auth is not None,
        auth_header=auth.auth_header_name if auth is not None else "authorization",
    )
    port = config.ui_port
    if port is None:
        port = config.port + 1000 if 0 < config.port <= 65535 - 1000 else 0
    bound = await ui.start(config.ui_ip or config.ip, port)
    log.info("web UI on http://%s", bound)
    return ui, bound


def _callbacks(engine: HistoryEngine, cluster: ShardCluster, namespaces: NamespaceRegistry) -> None:
    background: set[asyncio.Task[object]] = set()

    def spawn(coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        background.add(task)
        task.add_done_callback(background.discard)

    async def acquired(shards: list[int]) -> None:
        await engine.recover(shards)
        log.info("took over shards %s", shards)

    async def ring_changed() -> None:
        await namespaces.load()
        engine.reoffer_all()

    cluster.on_acquired = lambda shards: spawn(acquired(shards))
    cluster.on_lost = engine.drop_shards
    cluster.on_ring_changed = lambda: spawn(ring_changed())


def _instrument(
    metrics: Metrics,
    engine: HistoryEngine,
    matching: Matching,
    namespaces: NamespaceRegistry,
    scheduler: Scheduler,
    cluster: ShardCluster | None,
) -> None:
    """Hand each role its metrics hooks (docs/metrics.md)."""

    def namespace_name(namespace_id: str) -> str:
        try:
            return namespaces.by_id(namespace_id).name
        except NamespaceNotFound:
            return UNKNOWN_NAMESPACE

    engine.metrics = metrics
    engine.timers.on_lag = metrics.timer_lag
    matching.on_unpolled = lambda ns_id, queue, kind: metrics.task_without_poller(
        namespace_name(ns_id), queue, kind
    )
    metrics.read_queues(matching.queues, namespace_name)
    scheduler.actions.on_start = metrics.schedule_action
    if cluster is not None:
        cluster.metrics = metrics
        metrics.read_shards(lambda: len(cluster.owned))
    else:
        metrics.read_shards(lambda: 1)  # the dev server owns its one shard


async def serve(
    config: ServerConfig,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    health: Health | None = None,
    endpoints: dict[str, str] | None = None,
    before_serving: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run the server until `stop` is set.

    `endpoints` (when given) is filled with each listener's bound address -- keys
    "grpc", "http", "ui", "metrics" -- before `on_ready` is called with the gRPC one
    (the CLI's start banner prints them all). `before_serving` is awaited once the
    listeners are up and before the server reports SERVING: the health service answers
    NOT_SERVING meanwhile (an embedder's warm-up; tests observe STARTING).
    """
    stop = stop or asyncio.Event()
    health = health or Health()
    endpoints = endpoints if endpoints is not None else {}
    if config.cluster and config.time_skipping:
        raise ClusterConfigError("time skipping needs a single server process (no cluster)")
    if config.cluster:
        problem = internode_auth_problem(config.internode, config.tls)
        if problem is not None:
            raise ClusterConfigError(problem)
    # Read the certificates first: a bad file stops the start before anything opens.
    frontend_credentials = _credentials(config.tls.frontend)
    internode_tls = config.tls.internode if config.cluster else None
    internode_credentials = _credentials(internode_tls.server if internode_tls else None)
    peer_channels = _peer_channels(config)
    store = await open_store(
        config.database_url or sqlite_url(config.db_filename),
        pool_size=config.pool_size,
        create_schema=config.create_schema,
    )
    skipping = (
        SkippingClock(locked=not config.time_skipping_unlocked) if config.time_skipping else None
    )
    clock = skipping or Clock()
    # None when metrics are off: no hook runs and nothing is counted.
    metrics = Metrics() if config.metrics_port is not None else None
    if metrics is not None:
        store = metered(store, metrics)
    matching = Matching(store)
    values = _dynamic_config(config)
    engine = HistoryEngine(store, matching, clock, _limits(values))
    # Retention would make the skipping clock jump to each closed run's deletion.
    engine.retention = skipping is None
    skipper = Skipper(skipping, store, engine.timers) if skipping is not None else None
    if skipper is not None:
        engine.on_published = skipper.published
        engine.timers.on_fired = skipper.poke
    namespaces = NamespaceRegistry(store)
    await namespaces.load()
    for name in ["default", *config.namespaces]:
        await namespaces.ensure(name)
    if config.search_attributes:
        for ns in namespaces.all():
            ns.search_attributes.update(config.search_attributes)
            await namespaces.update(ns)
    engine.namespaces = namespaces
    cluster: ShardCluster | None = None
    if config.cluster:
        cluster = ShardCluster(store, address="", num_shards=config.num_history_shards)
        engine.cluster = cluster
        _callbacks(engine, cluster, namespaces)
    # Roles reach each other only through the redirector: in-process clients for the
    # shards owned here, typed internal calls for the others.
    local_history = LocalHistoryClient(engine, namespaces)
    local_matching = LocalMatchingClient(matching)
    redirector = Redirector(engine.cluster, local_history, local_matching, peer_channels)
    engine.redirector = redirector
    transfers = TransferProcessor(engine, namespaces, redirector)
    router = routing.Router(redirector, namespaces)
    interceptors: list[grpc.aio.ServerInterceptor] = []
    if metrics is not None:
        # Outermost: refused calls (not serving, authorization, rate limits) are counted too.
        interceptors.append(ServiceMetricsInterceptor(metrics, namespaces.exists))
    # Then nothing reaches Temporal's services unless SERVING, and a stop waits for the
    # calls the gate counts.
    gate = ServingGate(health)
    interceptors.append(gate)
    # Then authorization, so that a call is authorized before it is routed anywhere.
    authorization = None
    if config.authorization is not None:
        # Imported on use: PyJWT and cryptography weigh on every start (start-up time).
        from pytemporal.frontend.authorization import Authorization

        authorization = Authorization(config.authorization)
        await authorization.start()
        if metrics is not None:
            unauthorized, exists = metrics.unauthorized, namespaces.exists
            authorization.interceptor.on_denied = lambda name: unauthorized(
                name if name and exists(name) else UNKNOWN_NAMESPACE
            )
        interceptors.append(authorization.interceptor)
    # Before routing: a call is counted on the public port it arrives at. Calls that
    # processes forward to each other reach the internode listener, which has no limiter.
    limiter = ratelimit.FrontendLimiter(
        ratelimit.RateLimitSettings.from_config(values, dev_server=cluster is None)
    )
    interceptors.append(
        ratelimit.RateLimitInterceptor(limiter, namespaces.exists, values.get(dc.MAX_ID_LENGTH))
    )
    if skipper is not None:
        interceptors.append(SkippingInterceptor(skipper))
    if cluster is not None:
        interceptors.append(routing.RoutingInterceptor(router))
    else:
        await engine.recover()

    options = _grpc_options(values)
    server = grpc.aio.server(interceptors=interceptors, options=options)
    # Public calls are served by this process's history and matching: the interceptor
    # has forwarded those that belong elsewhere.
    public_history = LocalPublicHistory(engine)
    # Schedules fire from the engine's timer queue; their workflows start on the owner
    # of each workflow id, here or through the redirector's channels.
    scheduler = Scheduler(engine, namespaces, Actions(public_history, redirector, store))
    if skipper is not None:
        skipper.also_running.append(lambda: scheduler.waking)
    if metrics is not None:
        _instrument(metrics, engine, matching, namespaces, scheduler, cluster)
    batcher = Batcher(
        engine,
        store,
        BatchTargets(
            public_history,
            redirector,
            store,
            namespaces,
            deleter=LocalWorkflowAdmin(engine),
            activities=public_history,
        ),
        lambda namespace_id, query: (
            visibility_service.parse_filter(namespaces.by_id(namespace_id), query).where
        ),
        max_concurrent=values.get(dc.MAX_CONCURRENT_BATCH_OPERATIONS),
    )
    workflow_service = WorkflowService(
        namespaces,
        lifecycle=public_history,
        reads=public_history,
        tasks=public_history,
        routes=redirector,
        matching=local_matching,
        runs=store,
        visibility=store,
        limits=FrontendLimits(
            engine.limits.blob_size,
            engine.limits.history_long_poll,
            values.get(dc.ENABLE_CANCEL_WORKER_POLLS_ON_SHUTDOWN),
        ),
        schedules=ScheduleService(namespaces, scheduler, store, engine.limits.blob_size),
        admin=LocalWorkflowAdmin(engine),
        activities=public_history,
        batcher=batcher,
    )
    workflow_service.activity_executions = LocalActivityExecutions(engine)
    # Worker deployments are loaded before serving: matching routes by them.
    deployments = Deployments(store)
    await deployments.load(ns.id for ns in namespaces.all())
    matching.router = deployments.route
    deployments.on_change = matching.reroute
    engine.deployment_target = deployments.target
    engine.version_present = deployments.serves
    workflow_service.deployments = deployments
    deleter = NamespaceDeleter(namespaces, store, clock, engine.forget_namespace)
    operator_service = OperatorService(namespaces, deleter)
    _fill_unimplemented(workflow_service, operator_service)
    cluster_info = _cluster_info(config, namespaces)
    workflow_service.cluster_info = operator_service.cluster_info = cluster_info
    workflow_grpc.add_WorkflowServiceServicer_to_server(workflow_service, server)
    operator_grpc.add_OperatorServiceServicer_to_server(operator_service, server)
    public_services = [WORKFLOW_SERVICE, OPERATOR_SERVICE]
    if skipping is not None:
        test_service.add_to_server(test_service.TestService(skipping), server)
        public_services.append(TEST_SERVICE)
    HealthService(health, public_services).add_to_server(server)
    enable_reflection(server, public_services)
    address = _listen(server, config.ip, config.port, frontend_credentials)
    endpoints["grpc"] = cluster_info.address = address
    # The HTTP API (and the UI) call the public server: on its TCP port, or through a
    # private socket when the port has TLS (web/channel.py).
    loopback = Loopback()
    web_address = (
        loopback.bind(server, address, config.tls.frontend) if _has_web(config) else address
    )
    workflow_service.host_address = address
    servers = [server]
    if cluster is not None:
        internal, cluster.address = _internode_listener(
            config,
            options,
            internode_credentials,
            router,
            workflow_service,
            operator_service,
            InternalService(local_history, engine.accept_task),
        )
        servers.append(internal)
        workflow_service.host_address = cluster.address
    runners = []
    if metrics is not None:
        # Imported on use: aiohttp weighs on the start of a server without metrics.
        from pytemporal.metrics import http as metrics_http

        ip = config.metrics_ip or config.ip
        runner, endpoints["metrics"] = await metrics_http.start(
            metrics, health, ip, config.metrics_port or 0
        )
        runners.append(runner)
    for s in servers:
        await s.start()
    if cluster is not None:
        await cluster.check_shard_count()
        await cluster.tick()  # take a first share of the shards before serving
    ui: UIServer | None = None
    http_api: HttpApiServer | None = None
    try:
        if config.http_port is not None:
            # Imported on use: the route table weighs on every start without it.
            from pytemporal.web.http_api import HttpApiServer

            http_api = await HttpApiServer.start(config, web_address, health)
            endpoints["http"] = http_api.address
        started_ui = await _start_ui(config, web_address, health)
        if started_ui is not None:
            ui, endpoints["ui"] = started_ui
        cluster_info.http_address = endpoints.get("http", "")
        if before_serving is not None:
            await before_serving()
        health.set(State.SERVING)
        if on_ready is not None:
            on_ready(address)
        async with asyncio.TaskGroup() as tg:
            timers = tg.create_task(engine.run_timers())
            deleting = tg.create_task(deleter.run())
            membership = tg.create_task(cluster.run()) if cluster is not None else None
            skipping_task = tg.create_task(skipper.run()) if skipper is not None else None
            # Other processes change deployments too: follow their rows.
            refresher = (
                tg.create_task(deployments.refresh(lambda: [ns.id for ns in namespaces.all()]))
                if cluster is not None
                else None
            )
            await stop.wait()
            health.set(State.DRAINING)  # first: health checks fail from the stop's start
            timers.cancel()
            deleting.cancel()
            if skipping_task is not None:
                skipping_task.cancel()
            if membership is not None:
                membership.cancel()
            if refresher is not None:
                refresher.cancel()
    finally:
        if health.state is not State.DRAINING:  # stopped by an error
            health.set(State.DRAINING)
        # The public listener stays open while its calls finish, so health checks get
        # NOT_SERVING (not a refused connection) for the grace period.
        drain = values.get(dc.SHUTDOWN_DRAIN_DURATION).total_seconds()
        grace = await gate.drain(drain or config.shutdown_grace)
        if ui is not None:
            await ui.close()
        if cluster is not None:
            await cluster.release_all()
        if http_api is not None:
            await http_api.close()
        await asyncio.gather(*(s.stop(grace=grace) for s in servers))
        loopback.close()
        for runner in runners:
            await runner.cleanup()
        if authorization is not None:
            await authorization.close()
        await scheduler.close()
        await transfers.close()
        await redirector.close()
        await store.close()
