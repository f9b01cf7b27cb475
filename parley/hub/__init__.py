"""The hub: rooms, membership, fan-out and presence; the engine between sessions and the broker."""

from parley.hub.hub import Hub
from parley.hub.member import Member
from parley.hub.room import Room

__all__ = ["Hub", "Member", "Room"]
