"""Transports: adapters that carry protocol frames over the network (WebSocket now; long-polling later)."""
