"""Login tokens: JWTs signed (HS256) with a secret kept in the store, so every node accepts every token.

A token names its user and expires `ttl` seconds after it was issued; there is no server-side session.
"""

import time

import jwt

ISSUER = "parley"


class InvalidToken(Exception):
    """Malformed, badly signed or expired."""


class Tokens:
    CACHE_SIZE = 10_000

    def __init__(self, secret: bytes, ttl: int) -> None:
        self._secret = secret
        self.ttl = ttl
        # token -> (user, expiry): a reconnect storm re-presents the same tokens; checking a signature
        # again costs more than the rest of a connection's set-up
        self._verified: dict[str, tuple[str, int]] = {}

    def issue(self, user: str) -> tuple[str, int]:
        """A fresh token for `user` and its expiry (Unix seconds)."""
        now = int(time.time())
        expires = now + self.ttl
        token = jwt.encode({"sub": user, "iat": now, "exp": expires, "iss": ISSUER}, self._secret, "HS256")
        return token, expires

    def verify(self, token: str) -> str:
        """The user a valid token names; InvalidToken otherwise."""
        hit = self._verified.get(token)
        if hit is not None:
            if hit[1] > time.time():
                return hit[0]
            del self._verified[token]
            raise InvalidToken("token expired")
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], issuer=ISSUER,
                                options={"require": ["sub", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        user, expires = claims["sub"], claims["exp"]
        if not isinstance(user, str) or not isinstance(expires, int):
            raise InvalidToken("invalid token")
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (user, expires)
        return user
