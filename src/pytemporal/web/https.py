"""HTTPS for the HTTP API with the frontend's TLS settings, as Temporal wraps its HTTP
listener in the frontend's TLS config.

Like the gRPC port (common/tls.py), the certificate files are read again when they
change: each handshake compares their modification times and, when one changed,
builds a new context and hands it to the connection (the SNI callback may swap an
`SSLObject`'s context). Half-written files keep the previous certificate in use.
"""

from __future__ import annotations

import logging
import os
import ssl

from pytemporal.common import tls

log = logging.getLogger(__name__)

Stamps = list[tuple[int, int] | None]


def _stamps(paths: list[str]) -> Stamps:
    out: Stamps = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return out


def _context(frontend: tls.ServerTLS) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        # Refuses a key that is not the certificate's.
        context.load_cert_chain(frontend.cert_file, frontend.key_file)
        for ca in frontend.client_ca_files:
            context.load_verify_locations(ca)
    except (OSError, ssl.SSLError) as e:
        raise tls.TLSConfigError(f"HTTPS certificate {frontend.cert_file}: {e}") from None
    if frontend.require_client_auth:
        if not frontend.client_ca_files:
            raise tls.TLSConfigError("requireClientAuth needs clientCaFiles")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class _Reloading:
    def __init__(self, frontend: tls.ServerTLS) -> None:
        self._frontend = frontend
        self._paths = [frontend.cert_file, frontend.key_file, *frontend.client_ca_files]
        self._stamps = _stamps(self._paths)
        self._current = _context(frontend)

    def on_handshake(
        self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        stamps = _stamps(self._paths)
        if stamps != self._stamps:
            try:
                self._current = _context(self._frontend)
                self._stamps = stamps
                log.info("HTTPS: loaded the new certificate from %s", self._frontend.cert_file)
            except tls.TLSConfigError as e:
                log.warning("HTTPS: keeping the current certificate: %s", e)
        connection.context = self._current


def server_context(frontend: tls.ServerTLS | None) -> ssl.SSLContext | None:
    """The listening context, or None (plain HTTP) without frontend TLS;
    TLSConfigError when the files are missing or do not fit."""
    if frontend is None:
        return None
    reloading = _Reloading(frontend)
    listening = _context(frontend)
    listening.sni_callback = reloading.on_handshake
    return listening
