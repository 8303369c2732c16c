"""Messages the server processes of one cluster exchange (never seen by clients)."""
