"""The web UI (docs/ui.md): server-rendered pages over this process's public gRPC port.

`UIServer` is what `server.serve` starts when the UI is on; `app.create_app` builds the
aiohttp application (also used directly by the tests, with any frontend address).
"""

from __future__ import annotations

from aiohttp import web

from pytemporal.common import tls
from pytemporal.common.health import Health
from pytemporal.common.http_site import listen
from pytemporal.web.channel import frontend_channel
from pytemporal.web.ui.app import create_app
from pytemporal.web.ui.backend import Frontend

__all__ = ["UIServer", "create_app"]


class UIServer:
    """The UI's HTTP listener, a client of the frontend at `frontend_address`."""

    def __init__(
        self,
        frontend_address: str,
        health: Health,
        *,
        frontend_tls: tls.ServerTLS | None = None,
        auth_required: bool = False,
        auth_header: str = "authorization",
    ) -> None:
        self._frontend = Frontend(frontend_channel(frontend_address, frontend_tls), auth_header)
        self._runner = web.AppRunner(
            create_app(self._frontend, health, auth_required=auth_required),
            access_log=None,
            handle_signals=False,
        )

    async def start(self, ip: str, port: int) -> str:
        """Listen on ip:port (0: any free port); the bound ip:port."""
        try:
            return await listen(self._runner, ip, port, "web UI")
        except OSError:
            await self._frontend.close()
            raise

    async def close(self) -> None:
        await self._runner.cleanup()
        await self._frontend.close()
