"""Prometheus metrics with Temporal's names (docs/metrics.md).

`Metrics` (families.py) holds every family and the hooks the roles call; it imports
no gRPC, HTTP or database code, so any role may hold one. The server wires the
rest: `interceptor.py` on the public port, `store.py` around the store, `http.py`
for the listener.
"""

from pytemporal.metrics.families import Metrics

__all__ = ["Metrics"]
