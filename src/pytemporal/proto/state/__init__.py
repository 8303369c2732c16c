"""Persisted mutable state of workflow runs."""
