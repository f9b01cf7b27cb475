"""One client's conversation (auth, join with catch-up, send, history, typing, limits), independent of
transport; a handler per frame type."""

from parley.session import handlers  # noqa: F401  (registers the frame handlers)
from parley.session.session import Session

__all__ = ["Session"]
