"""Any language can be a client: a Node.js script using the npm `ws` package (tests/node/chat_client.mjs)
connects, authenticates, joins and chats with a Python client through a real server.

`scripts/test` installs `ws` (npm install --prefix tests/node); when it is missing and npm is there, this
test installs it itself. Without `node` the test is skipped, with the reason."""

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import Client, unique

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "chat_client.mjs"


@pytest.fixture(scope="session")
def node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (the `node` command)")
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("the npm `ws` package is missing and npm is not installed to fetch it")
        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
                       check=True, timeout=300)
    return node


async def test_a_node_ws_client_chats_with_a_python_client(node, shared_server, users):
    (py_user, py_token), (node_user, node_token) = users[:2]
    room = unique("polyglot")
    python = await Client.connect(shared_server, py_token)
    await python.join(room)

    proc = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), shared_server.ws_url, node_token, room, "hello from node", py_user,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        from_node = await python.expect("message", room=room, timeout=20)
        assert from_node["from"] == node_user and from_node["text"] == "hello from node"
        ack = await python.say(room, "hello from python")
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert seen["user"] == node_user
    assert seen["joined"]["room"] == room and py_user in seen["joined"]["online"]
    assert seen["ack"]["seq"] == from_node["seq"] and seen["ack"]["ref"] == "send"
    assert seen["own"] == from_node  # the sender's own copy, byte for byte the same message
    assert seen["received"]["text"] == "hello from python" and seen["received"]["seq"] == ack["seq"]
    assert ack["seq"] == from_node["seq"] + 1
    await python.close()
