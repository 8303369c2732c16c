"""Batch operations (StartBatchOperation ...): a durable job per batch, run from the
history role's timer queue like a schedule. See docs/architecture/batch.md."""
