"""Starting one of the process's HTTP listeners (HTTP API, web UI, metrics)."""

from __future__ import annotations

import ssl

from aiohttp import web


async def listen(
    runner: web.AppRunner,
    ip: str,
    port: int,
    what: str,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Set `runner` up and serve it on ip:port (0: any free port); the bound ip:port.

    A port that cannot be bound cleans the runner up and raises OSError naming `what`,
    so the start stops with one line instead of a half-started listener.
    """
    await runner.setup()
    site = web.TCPSite(runner, ip, port, ssl_context=ssl_context, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise OSError(f"cannot listen on {ip}:{port} ({what}): {e.strerror or e}") from e
    bound = runner.addresses[0][1] if runner.addresses else port
    return f"{ip}:{bound}"
