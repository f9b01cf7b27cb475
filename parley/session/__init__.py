"""Per-connection protocol logic (auth, join, send, history, typing, limits), independent of transport."""

from parley.session.session import Session, Sink

__all__ = ["Session", "Sink"]
