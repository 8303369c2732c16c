"""Several server processes on one database: the shard ring and shard leases."""
