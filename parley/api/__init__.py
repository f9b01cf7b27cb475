"""The REST API (JSON over HTTP) beside the WebSocket endpoint."""

from parley.api.common import SERVICE, error_middleware
from parley.api.routes import add_routes

__all__ = ["SERVICE", "add_routes", "error_middleware"]
