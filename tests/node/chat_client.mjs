// A Parley client in Node.js with the npm `ws` package, for tests/test_node_client.py: any language can be
// a client. It connects, authenticates, joins a room, sends one message, and waits for its ack and for a
// message from another user; then it prints one JSON line with what it saw and exits 0 (1 on any failure).
//
// usage: node chat_client.mjs WS_URL TOKEN ROOM TEXT EXPECT_FROM
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

const [url, token, room, text, expectFrom] = process.argv.slice(2);
if (!expectFrom) {
  console.error("usage: node chat_client.mjs WS_URL TOKEN ROOM TEXT EXPECT_FROM");
  process.exit(2);
}

const clientId = `node-${randomUUID()}`;
const seen = { user: null, joined: null, ack: null, own: null, received: null };
const ws = new WebSocket(url);
const timer = setTimeout(() => fail(`timed out; saw ${JSON.stringify(seen)}`), 15000);

function fail(why) {
  console.error(`chat_client: ${why}`);
  process.exit(1);
}

function send(frame) {
  ws.send(JSON.stringify(frame));
}

ws.on("open", () => send({ type: "auth", token, ref: "auth" }));
ws.on("error", (err) => fail(`socket error: ${err.message}`));
ws.on("close", (code) => {
  if (!(seen.ack && seen.received)) fail(`closed early with ${code}`);
});
ws.on("message", (data, isBinary) => {
  if (isBinary) fail("got a binary frame");
  const frame = JSON.parse(data.toString("utf8"));
  switch (frame.type) {
    case "ready":
      seen.user = frame.user;
      send({ type: "join", room, ref: "join" });
      break;
    case "joined":
      seen.joined = frame;
      send({ type: "send", room, text, client_id: clientId, ref: "send" });
      break;
    case "ack":
      if (frame.client_id === clientId) seen.ack = frame;
      break;
    case "message":
      if (frame.client_id === clientId) seen.own = frame;
      else if (frame.from === expectFrom) seen.received = frame;
      break;
    case "error":
      fail(`server error: ${JSON.stringify(frame)}`);
      break;
    default:
      break; // presence, typing: not needed here
  }
  if (seen.ack && seen.own && seen.received) {
    clearTimeout(timer);
    console.log(JSON.stringify(seen));
    ws.close(1000);
  }
});
