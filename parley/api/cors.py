"""CORS for the REST API (polling included): browsers on an origin listed with --allowed-origin may call it.

Only listed origins (or `*`) get `Access-Control-Allow-Origin`; the server's own page needs none. No
cookies are used (the token travels in `Authorization`), so credentials are never allowed. A preflight
(`OPTIONS` with `Access-Control-Request-Method`) to /api/ is answered here, before routing; from an
origin that is not listed it gets 403 without CORS headers, which the browser takes as a refusal.
"""

from typing import Any

from aiohttp import web

from parley.config import Settings
from parley.transports.origin import origin_listed

ALLOW_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
MAX_AGE = "600"


def cors_middleware(settings: Settings) -> Any:
    @web.middleware
    async def cors(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or not request.path.startswith("/api/"):
            return await handler(request)
        listed = origin_listed(origin, settings)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not listed:
                raise web.HTTPForbidden(text="origin not allowed\n")
            return web.Response(status=204, headers={
                "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Max-Age": MAX_AGE,
                "Vary": "Origin"})
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if listed:
                exc.headers["Access-Control-Allow-Origin"] = origin
                exc.headers["Vary"] = "Origin"
            raise
        if listed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return cors
