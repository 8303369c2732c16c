"""A channel to this process's own public gRPC port, for the HTTP API and the web UI.

With TLS on the frontend, the web role does not dial the TLS port: it would need a
client certificate the frontend accepts (mutual TLS), and would be trusted as whoever
that certificate names. Instead the public gRPC server also listens on a Unix socket
in a private directory (mode 0700, created for this process, removed at stop):
`Loopback.bind` adds it to the same `grpc.aio.Server`, so calls through it pass the
same interceptors (authorization, rate limits, routing) as calls on the TCP port, and
only this host's user the server runs as can connect to it. The caller's identity is
its bearer token, forwarded by the HTTP API and the UI as metadata.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import grpc

from pytemporal.common import tls

# Large enough for any response the frontend sends (server.MAX_SEND_MESSAGE).
_MAX_MESSAGE = 128 * 1024 * 1024
_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]


def frontend_channel(address: str, frontend_tls: tls.ServerTLS | None) -> grpc.aio.Channel:
    """`address` is the bound public address (ip:port; a wildcard ip is reached on
    loopback), or a `unix:` target from `Loopback.bind`, which is the only way to a
    TLS frontend."""
    if address.startswith("unix:"):
        return grpc.aio.insecure_channel(address, options=_OPTIONS)
    if frontend_tls is not None:
        raise tls.TLSConfigError(
            "a TLS frontend is reached through its private socket (web.channel.Loopback)"
        )
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    return grpc.aio.insecure_channel(f"{host}:{port}", options=_OPTIONS)


class Loopback:
    """The address the web role calls the frontend on: the public address without TLS,
    a private Unix socket of the same server with it (see the module docstring)."""

    def __init__(self) -> None:
        self._directory: str | None = None

    def bind(
        self, server: grpc.aio.Server, public_address: str, frontend_tls: tls.ServerTLS | None
    ) -> str:
        """Call before `server.start()`."""
        if frontend_tls is None:
            return public_address
        # mkdtemp creates the directory readable by this user only.
        self._directory = tempfile.mkdtemp(prefix="pytemporal-")
        target = f"unix:{os.path.join(self._directory, 'frontend.sock')}"
        try:
            server.add_insecure_port(target)
        except RuntimeError as e:
            raise OSError(f"cannot listen on {target}: {e}") from e
        return target

    def close(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
