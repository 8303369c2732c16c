"""Mutable state, format version 1 (`state.proto`)."""
