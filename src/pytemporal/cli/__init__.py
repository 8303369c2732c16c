"""The ``pytemporal`` command line: ``pytemporal server start-dev`` and friends."""
