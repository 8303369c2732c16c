"""pytemporal: the Temporal server, in Python."""

__version__ = "0.1.0"
