// The page's only way to the server: its JSON API. Reads need no key on a loopback bind;
// writes send the key kept in this browser (asked for once, on the first 401).
const KEY = "amlocal.key";

export class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

export function key() { return localStorage.getItem(KEY) || ""; }
export function setKey(value) { if (value) localStorage.setItem(KEY, value); else localStorage.removeItem(KEY); }

// A key handed over in the address (#key=... , e.g. from `amlocal studio`) is stored and
// removed from the address bar.
export function takeKeyFromAddress() {
  const match = location.hash.match(/[#&?]key=([^&]+)/);
  if (match) {
    setKey(decodeURIComponent(match[1]));
    const rest = location.hash.replace(/[#&?]key=[^&]+/, "").replace(/^#?&?/, "#");
    history.replaceState(null, "", location.pathname + (rest === "#" ? "#/runs" : rest));
  }
}

async function send(method, path, body, retry = true) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key()) headers["Authorization"] = `Bearer ${key()}`;
  const response = await fetch(path, { method, headers,
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && retry) {
    if (await askForKey()) return send(method, path, body, false);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const detail = data && (data.detail || data.message || data.error) || text || response.statusText;
    throw new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail), data);
  }
  return data;
}

export const get = (path) => send("GET", path);
export const post = (path, body = {}) => send("POST", path, body);
export const put = (path, body = {}) => send("PUT", path, body);

function askForKey() {
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  return new Promise((resolve) => {
    input.value = "";
    const done = (ok) => { dialog.close(); resolve(ok); };
    document.getElementById("key-cancel").onclick = () => done(false);
    document.getElementById("key-form").onsubmit = (event) => {
      event.preventDefault();
      setKey(input.value.trim());
      done(Boolean(input.value.trim()));
    };
    dialog.showModal();
    input.focus();
  });
}
