"""The ICE servers a browser needs to set up a call: STUN/TURN URLs from `--ice-server`, and for TURN
short-lived credentials in coturn's `use-auth-secret` scheme (the TURN REST API): the username is
`<expiry unix time>:<user>`, the password base64(HMAC-SHA1(--turn-secret, username)). coturn checks them
with the same secret, so no account is kept anywhere and a leaked credential expires by itself."""

import base64
import hashlib
import hmac
import time

ICE_SCHEMES = ("stun:", "turn:", "turns:")


def valid_ice_url(url: str) -> bool:
    return url.startswith(ICE_SCHEMES) and len(url) <= 512 and not any(c.isspace() for c in url)


def turn_credentials(secret: str, user: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """(username, credential) valid for `ttl` seconds from `now`."""
    expiry = int(now if now is not None else time.time()) + ttl
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(urls: list[str], secret: str | None, user: str, ttl: int) -> list[dict[str, object]]:
    """RTCPeerConnection's `iceServers` for `user`: STUN URLs as they are, TURN URLs with credentials when
    a secret is set (without one, TURN URLs are left out: coturn would refuse them)."""
    stun = [u for u in urls if u.startswith("stun:")]
    turn = [u for u in urls if u.startswith(("turn:", "turns:"))]
    servers: list[dict[str, object]] = [{"urls": stun}] if stun else []
    if turn and secret:
        username, credential = turn_credentials(secret, user, ttl)
        servers.append({"urls": turn, "username": username, "credential": credential})
    return servers
