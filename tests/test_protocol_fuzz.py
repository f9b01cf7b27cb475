"""Fuzzing the protocol: `parley.protocol.decode_client_frame` (pure, no server) turns any bytes or text into
a valid frame or a ProtocolError(bad_request), never anything else; and random JSON frames sent to a real
server never break the connection (it still answers a ping) nor the stored data."""

import asyncio
import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.protocol import ErrorCode, ProtocolError, decode_client_frame
from parley.protocol.frames import Auth, History, Join, Leave, Ping, Send, Typing
from parley.protocol.names import MAX_CLIENT_ID, valid_room
from tests.support import Client, fill_room, rest_messages, unique

TYPES = ["auth", "join", "leave", "send", "history", "typing", "ping"]
FIELDS = ["type", "room", "text", "client_id", "since", "before", "limit", "token", "ref"]

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
room_names = st.sampled_from(["general", "a", "x" * 64, "x" * 65, "", "a b", "room\n", "café", "a/b", "ok.room_-1"]) \
    | st.text(max_size=70)
field_values = {
    "type": st.sampled_from(TYPES) | st.text(max_size=10) | json_scalars,
    "room": room_names | json_scalars,
    "text": st.text(max_size=200) | json_scalars,
    "client_id": st.text(max_size=140) | json_scalars,
    "since": st.integers(-5, 10**20) | json_scalars,
    "before": st.integers(-5, 10**20) | json_scalars,
    "limit": st.integers(-5, 10**6) | json_scalars,
    "token": st.text(max_size=50) | json_scalars,
    "ref": st.text(max_size=200) | st.integers(-(2**70), 2**70) | json_values,
}
frames = st.fixed_dictionaries({"type": field_values["type"]}, optional={
    k: field_values[k] for k in FIELDS if k != "type"}) | st.dictionaries(st.sampled_from(FIELDS), json_values)
payloads = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    json_values.map(json.dumps),
    frames.map(json.dumps),
    frames.map(lambda f: json.dumps(f).encode()),
)


def check_frame(frame: object) -> None:
    """What a decoded frame guarantees to the session: every field within its rules."""
    assert isinstance(frame, Auth | Join | Leave | Send | History | Typing | Ping)
    assert frame.ref is None or (isinstance(frame.ref, str | int) and not isinstance(frame.ref, bool))
    if hasattr(frame, "room"):
        assert valid_room(frame.room), frame.room
    if isinstance(frame, Join):
        assert frame.since is None or (isinstance(frame.since, int) and frame.since >= 0)
    if isinstance(frame, History):
        assert frame.before is None or frame.before >= 0
        assert isinstance(frame.limit, int) and frame.limit >= 1
    if isinstance(frame, Send):
        assert isinstance(frame.text, str)
        assert frame.client_id is None or 1 <= len(frame.client_id) <= MAX_CLIENT_ID
    if isinstance(frame, Auth):
        assert isinstance(frame.token, str)


@settings(max_examples=500, deadline=None)
@given(payloads)
def test_decode_client_frame_accepts_a_valid_frame_or_raises_bad_request(data):
    try:
        frame = decode_client_frame(data)
    except ProtocolError as exc:
        assert exc.code == ErrorCode.BAD_REQUEST
        assert isinstance(exc.message, str) and exc.message
        assert exc.ref is None or (isinstance(exc.ref, int) and not isinstance(exc.ref, bool)) or (
            isinstance(exc.ref, str) and len(exc.ref) <= 128)
        error = msgspec.json.decode(exc.frame())
        assert error["type"] == "error" and error["code"] == "bad_request"
        return
    check_frame(frame)


@settings(max_examples=300, deadline=None)
@given(frames)
def test_decoding_agrees_with_the_frame_rules(frame):
    """Frames built from the protocol's own field names: the decoder's verdict matches the written rules."""
    try:
        decoded = decode_client_frame(json.dumps(frame))
    except ProtocolError as exc:
        assert exc.code == ErrorCode.BAD_REQUEST
        return
    check_frame(decoded)
    assert decoded.__struct_config__.tag == frame["type"]
    if hasattr(decoded, "room"):
        assert decoded.room == frame["room"]


@pytest.mark.parametrize("data", [b'"\x80"', b'{"type":"auth","token":"\x80"}', b'{"type":"ping","ref":"\xff"}',
                                  b'{"\x80":1}', b"\x80", b"", b"\x00"])
def test_invalid_utf8_bytes_are_a_bad_request(data):
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(data)
    assert info.value.code == ErrorCode.BAD_REQUEST


def test_known_good_frames_decode():
    assert decode_client_frame('{"type":"join","room":"general","since":3,"ref":"j"}') == Join(room="general", since=3,
                                                                                                ref="j")
    assert decode_client_frame(b'{"type":"send","room":"a.b-c_d","text":"hi","client_id":"c1"}') == Send(
        room="a.b-c_d", text="hi", client_id="c1")
    assert decode_client_frame('{"type":"ping","extra":"ignored"}') == Ping()


# against the real server ------------------------------------------------------------------------


JOINED = "$JOINED"  # stands for the room the probing connection has joined, so frames reach the store
server_frames = st.fixed_dictionaries({"type": st.sampled_from(TYPES)}, optional={
    "room": st.just(JOINED) | room_names, **{k: field_values[k] for k in FIELDS if k not in ("type", "room")}})
ALLOWED_ERRORS = {"bad_request", "not_joined", "too_long", "unauthenticated"}


async def probe_with(server, token: str, room: str, payload: dict | str) -> None:
    """Send one fuzzed frame on a fresh connection that has joined `room`, then a ping: the pong must come,
    and so must the direct reply to the frame (found by its "ref") unless it is a `typing`, which has none."""
    client = await Client.connect(server, token)
    try:
        await client.join(room)
        wants_reply = isinstance(payload, dict) and payload.get("type") != "typing"
        if isinstance(payload, dict):
            payload = json.dumps({**payload, "ref": "fz"}).replace(json.dumps(JOINED), json.dumps(room))
        await client.send(payload)
        await client.send({"type": "ping", "ref": "probe"})
        await client.expect("pong", ref="probe", timeout=10)
        if wants_reply:
            reply = await client.expect(None, ref="fz", timeout=5)
            assert reply["type"] != "error" or reply["code"] in ALLOWED_ERRORS, reply
        for frame in client.pending:
            if frame["type"] == "error":
                assert frame["code"] in ALLOWED_ERRORS, frame
    finally:
        await client.close()


def test_random_frames_never_break_a_connection(shared_server, users):
    """About 50 random frames, each on a fresh authenticated connection that has joined a room: each gets
    its reply, the connection still answers a ping, and afterwards the kept room is intact."""
    token = users[0][1]
    kept = unique("kept")
    asyncio.run(fill_room(shared_server, kept, 3, token=users[1][1]))

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(server_frames, server_frames, frames, json_values.map(json.dumps), st.text(max_size=200)))
    def one(payload):
        asyncio.run(probe_with(shared_server, token, unique("fz"), payload))

    one()
    assert [m["text"] for m in rest_messages(shared_server, token, kept)] == ["m1", "m2", "m3"]
