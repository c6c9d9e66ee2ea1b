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
  // A view's requests carry its signal: leaving the view cancels them.
  if (opts.signal) init.signal = opts.signal;
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

// Times are told in one 24-hour form, in the zone of the meter or usage
// point they belong to (the browser's when none is known).
const fmtCache = new Map();
function dtf(kind, timeZone) {
  const key = kind + "|" + (timeZone || "");
  let f = fmtCache.get(key);
  if (!f) {
    const base = { timeZone: timeZone || undefined, hourCycle: "h23" };
    const o = {
      time: { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" },
      hm: { hour: "2-digit", minute: "2-digit" },
      hms: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
      dm: { day: "numeric", month: "short" },
      dmhm: { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" },
    }[kind];
    f = new Intl.DateTimeFormat("en-GB", { ...base, ...o });
    fmtCache.set(key, f);
  }
  return f;
}

export const fmt = {
  int: (v) => (v === undefined || v === null ? "–" : Number(v).toLocaleString("en-GB")),
  pct: (v) => (v === undefined || v === null || isNaN(v) ? "–" : (100 * v).toFixed(1) + " %"),
  kwh: (wh) => (wh / 1000).toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " kWh",
  watts: (w) => (w >= 1000 ? (w / 1000).toFixed(2) + " kW" : Math.round(w) + " W"),
  money: (micro, cur) => (micro / 1e6).toLocaleString("en-GB", { style: "currency", currency: cur || "EUR" }),
  time: (s, timeZone) => (s ? dtf("time", timeZone).format(new Date(s)) : "–"),
  hm: (s, timeZone) => (s ? dtf("hm", timeZone).format(new Date(s)) : "–"),
  hms: (s, timeZone) => (s ? dtf("hms", timeZone).format(new Date(s)) : "–"),
  dmhm: (s, timeZone) => (s ? dtf("dmhm", timeZone).format(new Date(s)) : "–"),
};

// register formats a register read in its reading type's unit: energy in
// kWh (kvarh), demand in kW, as the stored integer Wh (varh, W) scaled by
// the power of ten an id may end in ("A+e-2": hundredths of a Wh); the
// meter's clock offset in seconds.
export function register(readingType, value) {
  const base = readingType.split("/")[0];
  if (base === "clock-offset-ms") return (value >= 0 ? "+" : "") + (value / 1000).toFixed(3) + " s";
  const exp = Number((base.match(/e(-?\d+)$/) || [0, 0])[1]);
  const unit = /^A[+-]/.test(base) ? "kWh" : /^R[+-]/.test(base) ? "kvarh" : /^MD/.test(base) ? "kW" : "";
  if (!unit) return exp ? (value * 10 ** exp).toLocaleString("en-GB", { maximumFractionDigits: Math.max(0, -exp) }) : fmt.int(value);
  const digits = Math.max(3, 3 - exp);
  return ((value * 10 ** exp) / 1000).toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits }) + " " + unit;
}

// zoneOffset is how far the zone's clock is ahead of UTC at instant t (ms).
function zoneOffset(t, timeZone) {
  const p = {};
  for (const x of new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(t))) p[x.type] = x.value;
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(t / 1000) * 1000;
}

// dayStart is the instant (ms) a local day YYYY-MM-DD begins in a zone.
export function dayStart(date, timeZone) {
  const [y, m, d] = date.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d);
  if (!timeZone) return new Date(y, m - 1, d).getTime();
  let t = wall;
  for (let i = 0; i < 3; i++) t = wall - zoneOffset(t, timeZone);
  return t;
}

// dateIn is the local date (YYYY-MM-DD) of an instant in a zone.
export function dateIn(t, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: timeZone || undefined, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(t));
}

// timeChart is the part of a uPlot configuration every time chart shares:
// the axis in the zone's 24-hour time, no legend of uPlot's own (the page
// has its legend), and the value under the cursor written into readout.
export function timeChart(timeZone, readout, describe) {
  return {
    tzDate: (ts) => (timeZone ? uPlot.tzDate(new Date(ts * 1e3), timeZone) : new Date(ts * 1e3)),
    legend: { show: false },
    axes: [{
      // Whole seconds, minutes, hours and days: no tick repeats a label.
      incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800],
      values: (u, splits, ax, space, incr) => splits.map((s) => {
        if (s === null || s === undefined) return "";
        const t = s * 1e3;
        if (incr < 60) return fmt.hms(t, timeZone);
        if (incr >= 86400 || fmt.hm(t, timeZone) === "00:00") return dtf("dm", timeZone).format(new Date(t));
        return fmt.hm(t, timeZone);
      }),
    }],
    hooks: readout ? {
      setCursor: [(u) => {
        const i = u.cursor.idx;
        readout.textContent = i === null || i === undefined ? "" : describe(u, i);
      }],
    } : {},
  };
}

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
