"""The room policy as a pure table: every kind of actor against every action, public and private rooms."""

import pytest

from parley.service.policy import Action, Refused, decide, may_act_on
from parley.store import RoomRecord, Standing

PUBLIC = RoomRecord(name="r", visibility="public", topic="", last_seq=0)
PRIVATE = RoomRecord(name="r", visibility="private", topic="", last_seq=0)
DM = RoomRecord(name="r", visibility="dm", topic="", last_seq=0)
DELETED = RoomRecord(name="r", visibility="deleted", topic="", last_seq=0)

ACTORS: dict[str, tuple[Standing | None, bool]] = {
    "outsider": (None, False),
    "invited": (Standing(state="invited"), False),
    "banned": (Standing(state="banned"), False),
    "member": (Standing(state="member"), False),
    "muted": (Standing(state="member", muted=True), False),
    "moderator": (Standing(state="member", role="moderator"), False),
    "owner": (Standing(state="member", role="owner"), False),
    "admin": (None, True),
}
MOD = [Action.INVITE, Action.KICK, Action.BAN, Action.UNBAN, Action.MUTE, Action.UNMUTE, Action.TOPIC, Action.REDACT]
OWN = [Action.ROLE, Action.DELETE]
WRITE = (Action.SEND, Action.TYPE, Action.EDIT, Action.REACT, Action.CALL)
ACTIONS = [Action.LIST, Action.JOIN, Action.READ, *WRITE, Action.UNSEND, *MOD, *OWN, Action.LEAVE]
assert set(ACTIONS) == set(Action), "every action is in the table"

# expected answer (None: allowed, else the error code), per room kind, actor and action
F, N, C = "forbidden", "not_found", "conflict"


def expected(room: RoomRecord, actor: str, action: Action) -> str | None:
    _, admin = ACTORS[actor]
    if room is DELETED:
        return N
    if room is not PUBLIC and actor in ("outsider", "banned"):
        return N  # a private room or DM one is not in does not exist for them
    if actor == "banned":
        return F
    if action in (Action.LIST, Action.JOIN):
        return None
    if action is Action.READ:
        return F if actor == "invited" and room is not PUBLIC else None
    if action in WRITE:
        return None if actor in ("member", "moderator", "owner") else F
    if action is Action.UNSEND:  # one's own message: members and admins
        return None if actor in ("member", "muted", "moderator", "owner", "admin") else F
    if action is Action.LEAVE:
        return None if actor not in ("outsider", "admin") else C
    if room is DM:
        return F
    if admin:
        return None
    if action in MOD:
        return None if actor in ("moderator", "owner") else F
    return None if actor == "owner" else F


CASES = [(kind, room, actor, action) for kind, room in (("public", PUBLIC), ("private", PRIVATE), ("dm", DM),
                                                         ("deleted", DELETED))
         for actor in ACTORS for action in ACTIONS]


@pytest.mark.parametrize(("kind", "room", "actor", "action"), CASES,
                         ids=[f"{k}-{a}-{act.value}" for k, _, a, act in CASES])
def test_decide(kind: str, room: RoomRecord, actor: str, action: Action) -> None:
    standing, admin = ACTORS[actor]
    want = expected(room, actor, action)
    if want is None:
        decide(action, room, "r", standing, admin)
        return
    with pytest.raises(Refused) as refused:
        decide(action, room, "r", standing, admin)
    assert refused.value.code == want
    if want == N:
        assert refused.value.message == "room 'r' not found"  # word for word what a missing room answers


def test_a_room_that_does_not_exist_answers_the_same() -> None:
    with pytest.raises(Refused) as refused:
        decide(Action.JOIN, None, "r", None, False)
    assert (refused.value.code, refused.value.message) == ("not_found", "room 'r' not found")


@pytest.mark.parametrize(("actor", "target", "allowed"), [
    ("moderator", "member", True), ("moderator", "moderator", False), ("moderator", "owner", False),
    ("owner", "owner", True), ("owner", "moderator", True), ("admin", "owner", True), ("moderator", "invited", True),
])
def test_who_may_act_on_whom(actor: str, target: str, allowed: bool) -> None:
    standing, admin = ACTORS[actor]
    if allowed:
        may_act_on(standing, admin, ACTORS[target][0], "r")
    else:
        with pytest.raises(Refused, match="may not act on"):
            may_act_on(standing, admin, ACTORS[target][0], "r")
