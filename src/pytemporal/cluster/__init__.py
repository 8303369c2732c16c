"""Several server processes on one database: shard leases, routing, internal calls."""
