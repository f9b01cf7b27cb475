"""The live-session registry: a user's sessions on this node, for what goes to a user rather than a room."""

from parley.protocol import Outbound
from parley.session.registry import SessionRegistry


class Live:
    def __init__(self, user: str) -> None:
        self.user = user
        self.got: list[bytes] = []

    def push(self, out: Outbound) -> None:
        self.got.append(out.data)


def test_sessions_are_found_by_user_and_delivered_to_until_removed() -> None:
    registry = SessionRegistry()
    phone, laptop, other = Live("alice"), Live("alice"), Live("bob")
    for s in (phone, laptop, other):
        registry.add(s)
    assert set(registry.of("alice")) == {phone, laptop} and len(registry) == 3
    assert registry.deliver("alice", Outbound(b"ring")) == 2
    assert phone.got == laptop.got == [b"ring"] and other.got == []
    registry.remove(phone)
    registry.remove(phone)  # twice is harmless
    assert registry.of("alice") == [laptop]
    registry.remove(laptop)
    assert registry.of("alice") == [] and registry.deliver("alice", Outbound(b"x")) == 0
    assert len(registry) == 1
