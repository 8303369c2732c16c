"""Signing keys, JWKS documents and tokens made by the tests (with `cryptography`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@dataclass
class SigningKey:
    kid: str
    alg: str  # RS256 or ES256
    private: Any

    @classmethod
    def rsa(cls, kid: str) -> SigningKey:
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        algorithm = (
            jwt.algorithms.RSAAlgorithm if self.alg == "RS256" else jwt.algorithms.ECAlgorithm
        )
        data: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        data.update(kid=self.kid, alg=self.alg, use="sig")
        return data

    def token(
        self,
        permissions: list[Any] | None = None,
        *,
        sub: Any = "tester",
        lifetime: float = 3600,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + int(lifetime), **claims}
        if sub is None:
            del payload["sub"]
        if permissions is not None:
            payload["permissions"] = permissions
        return jwt.encode(
            payload, self.private, algorithm=self.alg, headers={"kid": kid or self.kid}
        )


def jwks(*keys: SigningKey) -> bytes:
    return json.dumps({"keys": [k.jwk() for k in keys]}).encode()
