// api.js — The REST calls the page makes: register, sign in, list rooms. Errors become ApiError
// with the HTTP status and the server's message, so the UI can say something useful.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", "Can't reach the server. Check your connection and try again.");
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // A body that is not JSON (proxy error page, empty reply): fall through with data = null.
  }
  if (!res.ok) {
    const code = (data && data.error) || "http";
    const message = (data && data.message) || `The server answered ${res.status}.`;
    throw new ApiError(res.status, code, message);
  }
  return data;
}

/** Create an account; resolves to {token, user, expires}. */
export function register(username, password) {
  return request("POST", "/api/register", { body: { username, password } });
}

/** Sign in; resolves to {token, user, expires}. */
export function login(username, password) {
  return request("POST", "/api/login", { body: { username, password } });
}

/** All rooms the server knows: [{name, last_seq}]. */
export async function listRooms(token) {
  const data = await request("GET", "/api/rooms", { token });
  return Array.isArray(data && data.rooms) ? data.rooms : [];
}
