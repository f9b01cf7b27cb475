"""The hub: rooms, membership, fan-out, ordering and repair, cross-node presence; the engine between
sessions and the broker."""

from parley.hub.hub import Hub
from parley.hub.member import Member, RoomLog
from parley.hub.room import Room

__all__ = ["Hub", "Member", "Room", "RoomLog"]
