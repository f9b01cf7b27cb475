"""After a server restart, clients that rejoin with `since` keep chatting: live delivery resumes for
everyone even though the restarted node has delivered nothing in the room yet."""

from tests.support import Client, register


async def test_rejoin_after_restart_then_chat_live(make_server):
    server = make_server()
    _, ta = register(server)
    _, tb = register(server)
    a, b = await Client.connect(server, ta), await Client.connect(server, tb)
    await a.join("ops", 0)
    await b.join("ops", 0)
    before = (await a.say("ops", "before"))["seq"]  # the room's last event: its creation and b's joining came first
    assert [m["text"] for m in await b.messages(1)] == ["before"]
    await a.close()
    await b.close()
    server.restart()
    a, b = await Client.connect(server, ta), await Client.connect(server, tb)
    assert (await a.join("ops", before))["last_seq"] == before
    assert (await b.join("ops", before))["last_seq"] == before
    ack = await a.say("ops", "after")
    got = await b.messages(1)
    assert [(m["seq"], m["text"]) for m in got] == [(ack["seq"], "after")] == [(before + 1, "after")]
    assert [m["text"] for m in await a.messages(1)] == ["after"]
    await a.close()
    await b.close()
