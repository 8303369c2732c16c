"""The web role: Temporal's HTTP API and the web UI.

Both are clients of this process's own public gRPC port (`channel.py`), so every call
they make passes the same authorization, rate limits and routing as an SDK's call."""
