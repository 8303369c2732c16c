"""Run ids as Temporal makes them: UUID version 7 (RFC 9562).

Temporal's server has created run ids with `uuid.NewV7` since 1.25, and the SDKs'
tests check the version. The leading 48 bits are the creation time in milliseconds,
so run ids sort by start time; the rest is random. Python 3.11's `uuid` module has
no `uuid7`, and the layout is a few lines.
"""

from __future__ import annotations

import os
import uuid


def uuid7(now: float) -> str:
    """A version-7 UUID for the time `now` (seconds since the epoch)."""
    ms = int(now * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))
