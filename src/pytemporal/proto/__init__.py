"""pytemporal's own protobuf messages (stored state, process-to-process calls).

The `.proto` files live beside their generated `*_pb2.py`; regenerate with
`python scripts/gen_protos.py`.
"""
