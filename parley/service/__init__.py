"""The service layer: ChatService (the one way in) and the room policy every operation passes."""

from parley.service.chat import AccountError, ChatService, Posted
from parley.service.policy import Action, Refused, RoomPolicy

__all__ = ["AccountError", "Action", "ChatService", "Posted", "Refused", "RoomPolicy"]
