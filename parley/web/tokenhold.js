// tokenhold.js — What the WebSocket and long-polling connections share when the page replaces its token
// (a password change): while the change runs, a refusal of the old token waits for its outcome instead
// of ending the session; afterwards the connection starts over with the new token, or gives up if there
// is none. `conn` has: token, holds, refusedWhileHeld, stopped, restart() and _refused().

/** Run `change` (which replaces `conn`'s token) while holding `conn`'s refusals. */
export async function replacingToken(conn, change) {
  const before = conn.token;
  conn.holds += 1;
  try {
    return await change();
  } finally {
    conn.holds -= 1;
    if (conn.holds === 0 && conn.refusedWhileHeld) {
      conn.refusedWhileHeld = false;
      if (conn.stopped) {
        // signed out meanwhile: nothing to start again
      } else if (conn.token !== before) conn.restart();
      else conn._refused();
    }
  }
}
