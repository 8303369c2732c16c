"""The `tls` section of `server start`'s config file, shaped like Temporal's `global.tls`::

tls:
  frontend:                     # the public port
    server:
      certFile: /etc/pytemporal/frontend.pem
      keyFile: /etc/pytemporal/frontend.key
      clientCaFiles: [/etc/pytemporal/clients-ca.pem]   # optional
      requireClientAuth: true   # mutual TLS: clients need a certificate of those CAs
  internode:                    # the cluster port; always mutual
    server:
      certFile: /etc/pytemporal/node.pem      # also presented when calling a peer
      keyFile: /etc/pytemporal/node.key
      clientCaFiles: [/etc/pytemporal/cluster-ca.pem]
    client:
      rootCaFiles: [/etc/pytemporal/cluster-ca.pem]   # default: server.clientCaFiles
      serverName: pytemporal-node   # optional: the name in the peers' certificates
"""

from __future__ import annotations

from typing import Any

from pytemporal.common.tls import ClientTLS, InternodeTLS, ServerTLS, TLSConfig, TLSConfigError

_SERVER_KEYS = ("certFile", "keyFile", "clientCaFiles", "requireClientAuth")
_CLIENT_KEYS = ("serverName", "rootCaFiles")


def _mapping(value: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TLSConfigError(f"{where}: expected a mapping, got {value!r}")
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise TLSConfigError(
            f"{where}: unknown setting {unknown[0]!r}; known settings: {', '.join(keys)}"
        )
    return value


def _path(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TLSConfigError(f"{where}: expected a file path, got {value!r}")
    return value.strip()


def _paths(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise TLSConfigError(f"{where}: expected a list of file paths, got {value!r}")
    return [_path(v, where) for v in value]


def _server(value: Any, where: str) -> ServerTLS:
    m = _mapping(value, where, _SERVER_KEYS)
    for key in ("certFile", "keyFile"):
        if key not in m:
            raise TLSConfigError(f"{where}.{key}: required")
    require = m.get("requireClientAuth", False)
    if not isinstance(require, bool):
        raise TLSConfigError(f"{where}.requireClientAuth: expected true or false, got {require!r}")
    server = ServerTLS(
        cert_file=_path(m["certFile"], f"{where}.certFile"),
        key_file=_path(m["keyFile"], f"{where}.keyFile"),
        client_ca_files=_paths(m.get("clientCaFiles", []), f"{where}.clientCaFiles"),
        require_client_auth=require,
    )
    if server.require_client_auth and not server.client_ca_files:
        raise TLSConfigError(f"{where}: requireClientAuth needs clientCaFiles")
    return server


def _internode(value: Any, where: str) -> InternodeTLS:
    m = _mapping(value, where, ("server", "client"))
    if "server" not in m:
        raise TLSConfigError(f"{where}.server: required")
    server = _server(m["server"], f"{where}.server")
    if m["server"].get("requireClientAuth") is False:
        raise TLSConfigError(f"{where}.server.requireClientAuth: internode TLS is always mutual")
    if not server.client_ca_files:
        raise TLSConfigError(f"{where}.server.clientCaFiles: required (the cluster CA)")
    server.require_client_auth = True
    c = _mapping(m.get("client", {}), f"{where}.client", _CLIENT_KEYS)
    name = c.get("serverName")
    client = ClientTLS(
        root_ca_files=_paths(c.get("rootCaFiles", server.client_ca_files), f"{where}.client"),
        server_name=_path(name, f"{where}.client.serverName") if name is not None else None,
    )
    return InternodeTLS(server=server, client=client)


def tls_settings(value: Any, where: str) -> TLSConfig:
    """Parse the `tls` mapping; TLSConfigError names the offending key."""
    m = _mapping(value, where, ("frontend", "internode"))
    config = TLSConfig()
    if m.get("frontend") is not None:
        f = _mapping(m["frontend"], f"{where}.frontend", ("server",))
        if "server" not in f:
            raise TLSConfigError(f"{where}.frontend.server: required")
        config.frontend = _server(f["server"], f"{where}.frontend.server")
    if m.get("internode") is not None:
        config.internode = _internode(m["internode"], f"{where}.internode")
    return config
