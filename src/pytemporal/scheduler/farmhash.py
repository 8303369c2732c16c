"""FarmHash Fingerprint32 (farmhashmk Hash32), as github.com/dgryski/go-farm computes it.

Temporal derives a schedule action's jitter from this hash, so reproducing Temporal's
action times needs the very same function; it is small enough to carry here rather
than depend on a native extension.
"""

from __future__ import annotations

_M = 0xFFFFFFFF
C1 = 0xCC9E2D51
C2 = 0x1B873593


def _rotr(v: int, n: int) -> int:
    return ((v >> n) | (v << (32 - n))) & _M


def _u32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i : i + 4], "little")


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M
    h ^= h >> 16
    return h


def _mur(a: int, h: int) -> int:
    a = (a * C1) & _M
    a = _rotr(a, 17)
    a = (a * C2) & _M
    h ^= a
    h = _rotr(h, 19)
    return (h * 5 + 0xE6546B64) & _M


def _len0to4(s: bytes, seed: int) -> int:
    b = seed
    c = 9
    for byte in s:
        v = byte - 256 if byte >= 128 else byte  # Go reads the bytes as int8
        b = (b * C1 + v) & _M
        c ^= b
    return _fmix(_mur(b, _mur(len(s), c)))


def _len5to12(s: bytes, seed: int) -> int:
    n = len(s)
    a = n
    b = (n * 5) & _M
    c = 9
    d = (b + seed) & _M
    a = (a + _u32(s, 0)) & _M
    b = (b + _u32(s, n - 4)) & _M
    c = (c + _u32(s, (n >> 1) & 4)) & _M
    return _fmix(seed ^ _mur(c, _mur(b, _mur(a, d))))


def _len13to24(s: bytes, seed: int) -> int:
    n = len(s)
    a = _u32(s, (n >> 1) - 4)
    b = _u32(s, 4)
    c = _u32(s, n - 8)
    d = _u32(s, n >> 1)
    e = _u32(s, 0)
    f = _u32(s, n - 4)
    h = (d * C1 + n + seed) & _M
    a = (_rotr(a, 12) + f) & _M
    h = (_mur(c, h) + a) & _M
    a = (_rotr(a, 3) + c) & _M
    h = (_mur(e, h) + a) & _M
    a = (_rotr((a + f) & _M, 12) + d) & _M
    h = (_mur(b ^ seed, h) + a) & _M
    return _fmix(h)


def fingerprint32(s: bytes) -> int:
    n = len(s)
    if n <= 4:
        return _len0to4(s, 0)
    if n <= 12:
        return _len5to12(s, 0)
    if n <= 24:
        return _len13to24(s, 0)
    h = n
    g = (C1 * n) & _M
    f = g

    def mix(i: int) -> int:
        return (_rotr((_u32(s, i) * C1) & _M, 17) * C2) & _M

    a0, a1, a2, a3, a4 = mix(n - 4), mix(n - 8), mix(n - 16), mix(n - 12), mix(n - 20)
    h ^= a0
    h = (_rotr(h, 19) * 5 + 0xE6546B64) & _M
    h ^= a2
    h = (_rotr(h, 19) * 5 + 0xE6546B64) & _M
    g ^= a1
    g = (_rotr(g, 19) * 5 + 0xE6546B64) & _M
    g ^= a3
    g = (_rotr(g, 19) * 5 + 0xE6546B64) & _M
    f = (f + a4) & _M
    f = (_rotr(f, 19) + 113) & _M
    pos = 0
    while n - pos > 20:
        a, b, c, d, e = (_u32(s, pos + k) for k in (0, 4, 8, 12, 16))
        h = (h + a) & _M
        g = (g + b) & _M
        f = (f + c) & _M
        h = (_mur(d, h) + e) & _M
        g = (_mur(c, g) + a) & _M
        f = (_mur((b + e * C1) & _M, f) + d) & _M
        f = (f + g) & _M
        g = (g + f) & _M
        pos += 20
    g = (_rotr(g, 11) * C1) & _M
    g = (_rotr(g, 17) * C1) & _M
    f = (_rotr(f, 11) * C1) & _M
    f = (_rotr(f, 17) * C1) & _M
    h = _rotr((h + g) & _M, 19)
    h = (h * 5 + 0xE6546B64) & _M
    h = (_rotr(h, 17) * C1) & _M
    h = _rotr((h + f) & _M, 19)
    h = (h * 5 + 0xE6546B64) & _M
    h = (_rotr(h, 17) * C1) & _M
    return h
