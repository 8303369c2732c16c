"""TLS settings and the gRPC credentials built from them.

Modelled on Temporal's `global.tls`: a `frontend` group for the public port and an
`internode` group for the port the server processes call each other on. A server
side names its certificate and key and, for mutual TLS, the CAs whose client
certificates it accepts. Certificate files are read again when they change: every
new TLS handshake checks the files' modification times (`grpc`'s dynamic server
credentials), so a rotated certificate is served from the next connection on, with
no restart. Connections already open keep the certificate they started with.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

log = logging.getLogger(__name__)


class TLSConfigError(ValueError):
    """Unusable TLS settings or files; the message names the file."""


@dataclass
class ServerTLS:
    """One listener's certificate, and whom it accepts (Temporal's `tls.*.server`)."""

    cert_file: str
    key_file: str
    # PEM files of the CAs that sign acceptable client certificates.
    client_ca_files: list[str] = field(default_factory=list)
    # True: a client without a certificate signed by one of those CAs is refused
    # during the handshake (mutual TLS).
    require_client_auth: bool = False


@dataclass
class ClientTLS:
    """How a process checks the peers it calls (Temporal's `tls.internode.client`)."""

    # PEM files of the CAs that sign the peers' server certificates.
    root_ca_files: list[str] = field(default_factory=list)
    # The name to expect in the peers' certificates, when they are not issued for the
    # address they are reached at.
    server_name: str | None = None


@dataclass
class InternodeTLS:
    """Mutual TLS between the server processes: each presents `server`'s certificate
    both as a server and as a client, and trusts `client.root_ca_files`."""

    server: ServerTLS
    client: ClientTLS


@dataclass
class TLSConfig:
    frontend: ServerTLS | None = None
    internode: InternodeTLS | None = None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise TLSConfigError(f"cannot read {path}: {e.strerror or e}") from None


def _read_all(paths: Sequence[str]) -> bytes | None:
    return b"".join(_read(p) for p in paths) or None


def _check_pair(cert: bytes, key: bytes, cert_file: str, key_file: str) -> None:
    """A certificate and a key that do not belong together would fail every handshake;
    refuse them here instead (a rotation caught between the two file writes)."""
    # Imported here: most servers (and every in-process test server) have no TLS, and
    # cryptography is a noticeable part of the start-up time.
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        public = x509.load_pem_x509_certificate(cert).public_key()
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise TLSConfigError(
            f"{cert_file} / {key_file}: not a PEM certificate and key: {e}"
        ) from None
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if public.public_bytes(*fmt) != private.public_key().public_bytes(*fmt):
        raise TLSConfigError(f"{key_file} is not the key of the certificate in {cert_file}")


def _load(tls: ServerTLS) -> grpc.ServerCertificateConfiguration:
    cert, key = _read(tls.cert_file), _read(tls.key_file)
    _check_pair(cert, key, tls.cert_file, tls.key_file)
    return grpc.ssl_server_certificate_configuration(
        [(key, cert)], root_certificates=_read_all(tls.client_ca_files)
    )


Stamps = list[tuple[int, int] | None]


def file_stamps(paths: list[str]) -> Stamps:
    """Each file's (mtime, size), None where it cannot be read: a change means reload."""
    out: Stamps = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return out


class _Reloader:
    """Hands gRPC a new certificate configuration when a file's mtime changed."""

    def __init__(self, tls: ServerTLS) -> None:
        self.tls = tls
        self.paths = [tls.cert_file, tls.key_file, *tls.client_ca_files]
        self._lock = threading.Lock()
        self._stamps = file_stamps(self.paths)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        # Called by gRPC's core, on its own thread, at the start of each handshake.
        with self._lock:
            stamps = file_stamps(self.paths)
            if stamps == self._stamps:
                return None
            try:
                config = _load(self.tls)
            except Exception as e:  # noqa: BLE001 - an exception here would fail the handshake
                # Half-written files (the key replaced, the certificate not yet): keep
                # serving the old pair and look again at the next handshake.
                log.warning("keeping the current certificate: %s", e)
                return None
            self._stamps = stamps
            log.info("loaded the new certificate from %s", self.tls.cert_file)
            return config


def server_credentials(tls: ServerTLS) -> grpc.ServerCredentials:
    """Credentials for a listener; TLSConfigError if the files are missing or bad."""
    if tls.require_client_auth and not tls.client_ca_files:
        raise TLSConfigError("requireClientAuth needs clientCaFiles to check clients against")
    reloader = _Reloader(tls)
    initial = _load(tls)
    return grpc.dynamic_ssl_server_credentials(
        initial, reloader, require_client_authentication=tls.require_client_auth
    )


def channel_credentials(tls: InternodeTLS) -> grpc.ChannelCredentials:
    """A process's credentials when it calls another one: its own certificate, and
    the cluster CA to check the peer's with. Read when a channel to a peer opens."""
    cert, key = _read(tls.server.cert_file), _read(tls.server.key_file)
    _check_pair(cert, key, tls.server.cert_file, tls.server.key_file)
    return grpc.ssl_channel_credentials(
        root_certificates=_read_all(tls.client.root_ca_files),
        private_key=key,
        certificate_chain=cert,
    )


def channel_options(tls: InternodeTLS | None) -> list[tuple[str, str]]:
    if tls is None or not tls.client.server_name:
        return []
    return [("grpc.ssl_target_name_override", tls.client.server_name)]
