"""A first end-to-end check: register, connect, join, send, receive."""

from tests.support import Client, register


async def test_two_users_chat(server):
    _, ta = register(server)
    _, tb = register(server)
    a = await Client.connect(server, ta)
    b = await Client.connect(server, tb)
    assert (await a.join("general"))["last_seq"] == 1  # a made the room: seq 1 is its creation
    head = (await b.join("general"))["last_seq"]  # b's joining
    ack = await a.say("general", "hello")
    got = await b.messages(1)
    assert got[0]["text"] == "hello" and got[0]["seq"] == ack["seq"] == head + 1
    await a.close()
    await b.close()
