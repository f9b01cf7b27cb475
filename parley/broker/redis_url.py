"""The options of a `redis://` broker URL: `redis://[:password@]host:6379/0[?prefix=parley&presence_interval=5]`.

`prefix` names the channel and keys, so several Parley clusters can share one Redis; `presence_interval`
is the presence refresh period in seconds. Every other part goes to redis-py unchanged.
"""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_PREFIX = "parley"
DEFAULT_INTERVAL = 5.0  # seconds between presence refreshes (and store re-checks)


def parse_url(url: str) -> tuple[str, str, float]:
    """`redis://host/0?prefix=p&presence_interval=2` -> (URL for redis-py, prefix, interval)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix = query.pop("prefix", DEFAULT_PREFIX) or DEFAULT_PREFIX
    try:
        interval = float(query.pop("presence_interval", DEFAULT_INTERVAL))
    except ValueError:
        raise ValueError(f"presence_interval must be a number of seconds in {url!r}") from None
    if interval <= 0:
        raise ValueError(f"presence_interval must be positive in {url!r}")
    return urlunsplit(parts._replace(query=urlencode(query))), prefix, interval
