"""A first end-to-end check: register, connect, join, send, receive."""

from tests.support import Client, register


async def test_two_users_chat(server):
    _, ta = register(server)
    _, tb = register(server)
    a = await Client.connect(server, ta)
    b = await Client.connect(server, tb)
    await a.join("general")
    await b.join("general")
    ack = await a.say("general", "hello")
    got = await b.messages(1)
    assert got[0]["text"] == "hello" and got[0]["seq"] == ack["seq"] == 1
    await a.close()
    await b.close()
