// Shared by the console and the portal: the API client with the session
// cookie and CSRF token, the login form, and formatting.

let csrf = "";
let onUnauthenticated = () => {};

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// api calls the REST API. Unsafe methods carry the session's CSRF token;
// a 401 brings the login form back.
export async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  if (init.method !== "GET" && csrf) init.headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(path, init);
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { raw: text }; }
  }
  if (!resp.ok) {
    const e = (data && data.error) || { code: "http_" + resp.status, message: resp.statusText };
    if (resp.status === 401 && !opts.quiet401) onUnauthenticated();
    throw new APIError(resp.status, e.code, e.message);
  }
  return data;
}

// whoami returns the signed-in principal, or null.
export async function whoami() {
  try {
    const me = await api("/api/v1/me", { quiet401: true });
    csrf = me.csrf || "";
    return me;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function logout() {
  try { await api("/api/v1/session", { method: "DELETE" }); } catch { /* gone already */ }
  csrf = "";
  location.reload();
}

// showLogin replaces root with the sign-in form and resolves once the
// server accepted the credentials.
export function showLogin(root, title) {
  return new Promise((resolve) => {
    root.replaceChildren(el("form", { class: "login", id: "login" },
      el("h1", {}, title),
      el("label", {}, "User", el("input", { name: "user", autocomplete: "username", required: "", autofocus: "" })),
      el("label", {}, "Password", el("input", { name: "password", type: "password", autocomplete: "current-password", required: "" })),
      el("p", { class: "error", id: "login-error" }),
      el("button", { type: "submit" }, "Sign in")));
    const form = root.querySelector("form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      try {
        const me = await api("/api/v1/session", { method: "POST", body: { user: f.get("user"), password: f.get("password") }, quiet401: true });
        csrf = me.csrf || "";
        resolve(me);
      } catch (e) {
        root.querySelector("#login-error").textContent = e.status === 401 ? "Wrong user name or password." : e.message;
      }
    });
  });
}

export function setUnauthenticated(f) { onUnauthenticated = f; }

// el builds an element: el("a", {href: "#"}, "text", child...).
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

export const fmt = {
  int: (v) => (v === undefined || v === null ? "–" : Number(v).toLocaleString("en-GB")),
  pct: (v) => (v === undefined || v === null || isNaN(v) ? "–" : (100 * v).toFixed(1) + " %"),
  kwh: (wh) => (wh / 1000).toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " kWh",
  watts: (w) => (w >= 1000 ? (w / 1000).toFixed(2) + " kW" : Math.round(w) + " W"),
  money: (micro, cur) => (micro / 1e6).toLocaleString("en-GB", { style: "currency", currency: cur || "EUR" }),
  time: (s) => (s ? new Date(s).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "–"),
  hm: (s, timeZone) => (s ? new Date(s).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone }) : "–"),
};

// Quality flags, as the API sends them (cim.Quality bits).
export const Q = { missing: 1, estimated: 2, edited: 4, suspect: 8, powerDown: 16, clockAdjusted: 32, notValid: 64, overflow: 128 };

export function isoDate(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// chartSize fits a chart to its container.
export function chartSize(node, h) {
  return { width: Math.max(300, node.clientWidth - 8), height: h };
}
