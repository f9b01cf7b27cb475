"""Login tokens: JWTs signed (HS256) with a secret kept in the store, so every node accepts every token.

A token names its user and the account's token generation (`gen`), and expires `ttl` seconds after it
was issued. There is no server-side session: revoking an account's tokens (sign out everywhere, a new
password) advances its generation, and tokens of an older one are refused; signing out revokes one token by
its id (`jti`), kept in the store until the token would have expired (service/accounts.py).
"""

import secrets
import time
from typing import NamedTuple

import jwt

ISSUER = "parley"


class InvalidToken(Exception):
    """Malformed, badly signed or expired."""


class Bearer(NamedTuple):
    """What a valid token says: its user, the account's token generation it was issued in, its own id (`jti`,
    by which signing out revokes this one token) and its expiry (Unix seconds)."""

    user: str
    gen: int
    token_id: str
    expires: int


class Tokens:
    CACHE_SIZE = 10_000

    def __init__(self, secret: bytes, ttl: int) -> None:
        self._secret = secret
        self.ttl = ttl
        # a reconnect storm re-presents the same tokens; checking a signature again costs more than the rest
        # of a connection's set-up
        self._verified: dict[str, Bearer] = {}

    def issue(self, user: str, gen: int = 0) -> tuple[str, int]:
        """A fresh token for `user` of token generation `gen`, and its expiry (Unix seconds)."""
        now = int(time.time())
        expires = now + self.ttl
        claims = {"sub": user, "iat": now, "exp": expires, "iss": ISSUER, "gen": gen, "jti": secrets.token_hex(8)}
        return jwt.encode(claims, self._secret, "HS256"), expires

    def verify(self, token: str) -> Bearer:
        """What a valid token says (generation 0 for tokens made before generations existed, an empty id for
        tokens made before ids); InvalidToken otherwise."""
        hit = self._verified.get(token)
        if hit is not None:
            if hit.expires > time.time():
                return hit
            del self._verified[token]
            raise InvalidToken("token expired")
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], issuer=ISSUER,
                                options={"require": ["sub", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        user, expires, gen, token_id = claims["sub"], claims["exp"], claims.get("gen", 0), claims.get("jti", "")
        if not (isinstance(user, str) and isinstance(expires, int) and isinstance(gen, int)
                and isinstance(token_id, str)):
            raise InvalidToken("invalid token")
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()
        bearer = self._verified[token] = Bearer(user, gen, token_id, expires)
        return bearer
