"""The REST API (JSON over HTTP) beside the WebSocket endpoint."""

from parley.api.routes import SERVICE, add_routes, error_middleware

__all__ = ["SERVICE", "add_routes", "error_middleware"]
