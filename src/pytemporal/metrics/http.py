"""The metrics listener: ``GET /metrics`` (Prometheus text format) and ``GET /health``.

Temporal-named families come from `Metrics`; prometheus-client adds the standard
process and Python runtime collectors (``process_cpu_seconds_total``,
``process_resident_memory_bytes``, ``python_gc_*``...).
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from pytemporal.common.health import Health, http_routes
from pytemporal.common.http_site import listen
from pytemporal.metrics.families import Metrics


def _runtime_registry() -> CollectorRegistry:
    # A registry of its own (not prometheus-client's global one): several servers may
    # run in one process (tests, the SDK's in-process environment).
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def application(metrics: Metrics, health: Health) -> web.Application:
    runtime = _runtime_registry()

    async def scrape(_request: web.Request) -> web.Response:
        body = metrics.render().encode() + generate_latest(runtime)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.add_routes([web.get("/metrics", scrape), *http_routes(health)])
    return app


async def start(metrics: Metrics, health: Health, ip: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve on ip:port (0: a free port); the runner (to clean up) and the bound address."""
    runner = web.AppRunner(application(metrics, health), access_log=None)
    return runner, await listen(runner, ip, port, "metrics")
