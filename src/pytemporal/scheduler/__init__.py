"""Schedules: spec evaluation (spec.py) and the durable scheduler built on it."""
