"""Parley: a real-time chat server (WebSocket rooms, durable history, accounts) on aiohttp + uvloop."""

__version__ = "0.1.0"
