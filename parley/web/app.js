// app.js — Entry point of the page: shows the sign-in screen or, with a stored session, the chat.
// Handles the sign-in / create-account form (with an invite code when the server is invite-only, and
// no account creation when it is closed); sign-out and expired sessions reload the page clean.

import { login, register, serverInfo } from "./api.js";
import { Chat, SIGNED_OUT_ELSEWHERE } from "./chat.js";
import { SESSION_KEY, clearSession, loadSession, saveSession, setNotice, takeNotice } from "./session.js";

const USERNAME_RE = /^[A-Za-z0-9._-]{1,32}$/;
const MIN_PASSWORD = 8;

const $ = (id) => document.getElementById(id);

function signOut(notice) {
  clearSession();
  if (notice) setNotice(notice);
  location.reload();
}

function startChat(session) {
  $("auth-view").hidden = true;
  const chat = new Chat(session, {
    onSignOut: (notice) => signOut(notice),
    onExpired: (message) => signOut(message || "Your session has expired. Please sign in again."),
  });
  chat.start();
  window.parley = chat; // handy in the devtools console
  // Signed out in another tab (the token is revoked, or only forgotten while offline): this tab follows. A
  // new token from another tab (a new password, another account) is taken up by loading the page again.
  window.addEventListener("storage", (ev) => {
    if (ev.key !== null && ev.key !== SESSION_KEY) return;
    const now = loadSession();
    if (!now) signOut(SIGNED_OUT_ELSEWHERE);
    else if (now.token !== session.token) location.reload();
  });
}

function showAuth() {
  $("chat-view").hidden = true;
  $("auth-view").hidden = false;
  const form = $("auth-form");
  const user = $("auth-username");
  const pass = $("auth-password");
  const error = $("auth-error");
  const invite = $("auth-invite");
  const buttons = [$("sign-in"), $("create-account")];
  const notice = takeNotice();
  if (notice) error.textContent = notice;
  let registration = "open";

  // How this server lets people in: open, invite-only (a code field appears) or closed.
  serverInfo()
    .then((info) => {
      registration = info && typeof info.registration === "string" ? info.registration : "open";
      $("invite-field").hidden = registration !== "invite";
      $("auth-closed").hidden = registration !== "closed";
      $("create-account").hidden = registration === "closed";
      $("auth-password-hint").hidden = registration === "closed";
    })
    .catch(() => {
      // An older server without /api/info: registration is open there.
    });

  const busy = (on) => {
    for (const b of buttons) b.disabled = on;
    form.setAttribute("aria-busy", String(on));
  };

  async function submit(mode) {
    const username = user.value.trim();
    const password = pass.value;
    if (!USERNAME_RE.test(username)) {
      error.textContent = username
        ? "Usernames are 1–32 letters, digits, “.”, “_” or “-”."
        : "Enter your username.";
      user.focus();
      return;
    }
    if (mode === "register" && registration === "invite" && !invite.value.trim()) {
      error.textContent = "This server is invite-only: enter the invite code you were given.";
      invite.focus();
      return;
    }
    if (mode === "register" && password.length < MIN_PASSWORD) {
      error.textContent = `Choose a password of at least ${MIN_PASSWORD} characters.`;
      pass.focus();
      return;
    }
    if (!password) {
      error.textContent = "Enter your password.";
      pass.focus();
      return;
    }
    error.textContent = "";
    busy(true);
    try {
      const res =
        mode === "register"
          ? await register(username, password, invite.value.trim() || undefined)
          : await login(username, password);
      saveSession({ token: res.token, user: res.user || username, expires: res.expires });
      pass.value = "";
      startChat(loadSession() || { token: res.token, user: res.user || username });
    } catch (err) {
      busy(false);
      if (mode === "login" && err.status === 401) error.textContent = "Wrong username or password.";
      else if (mode === "register" && err.status === 409) error.textContent = "That username is taken. Try another one.";
      else if (mode === "register" && err.status === 403 && registration === "invite") {
        error.textContent = "That invite code is not valid: it may be mistyped, expired or used up.";
      } else if (mode === "register" && err.status === 403 && registration === "closed") {
        error.textContent = "Registration is closed on this server: ask an administrator for an account.";
      } else error.textContent = err.message || "Something went wrong. Please try again.";
      const focus = err.status === 409 ? user : err.status === 403 && registration === "invite" ? invite : pass;
      focus.focus();
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit("login");
  });
  $("create-account").addEventListener("click", () => submit("register"));
  user.focus();
}

const session = loadSession();
if (session) startChat(session);
else showAuth();

// An installable app that opens without the server (sw.js); browsers allow workers only on https or localhost.
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js").catch(() => {
    // not installable here (a private window, storage blocked): the page works as before
  });
}
