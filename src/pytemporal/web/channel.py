"""A channel to this process's own public gRPC port, for the HTTP API and the web UI."""

from __future__ import annotations

import grpc

from pytemporal.common import tls

# Large enough for any response the frontend sends (server.MAX_SEND_MESSAGE).
_MAX_MESSAGE = 128 * 1024 * 1024


def frontend_channel(address: str, frontend_tls: tls.ServerTLS | None) -> grpc.aio.Channel:
    """`address` is the bound public address (ip:port; a wildcard ip is reached on
    loopback)."""
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    target = f"{host}:{port}"
    options = [
        ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ("grpc.max_send_message_length", _MAX_MESSAGE),
    ]
    if frontend_tls is None:
        return grpc.aio.insecure_channel(target, options=options)
    raise tls.TLSConfigError("the HTTP API and the web UI do not yet reach a TLS frontend")
