"""Shared pytest configuration.

The integration fixtures (server process, client) live in tests/integration/conftest.py;
set PYTEMPORAL_TEST_SERVER=reference to run that suite against Temporal's Go dev server.
"""
