"""The service layer: ChatService (the one way in), accounts, rooms and the room policy every operation passes."""

from parley.service.accounts import AccountError
from parley.service.chat import ChatService, Posted
from parley.service.policy import Action, Refused

__all__ = ["AccountError", "Action", "ChatService", "Posted", "Refused"]
