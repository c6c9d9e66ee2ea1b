// The operator console: fleet overview with the running collection, the
// meters, one meter's registers, load profile, relay, events and commands,
// the command queue, events and alarms, and the VEE exceptions.
import { api, whoami, showLogin, logout, setUnauthenticated, el, fmt, Q, chartSize, register, dayStart, dateIn, timeChart } from "./common.js";
import { approvals, canApprove } from "./approvals.js";
import { quarantine } from "./quarantine.js";
import { collectors } from "./collectors.js";
import { demandResponse } from "./dr.js";
import { billing } from "./billing.js";
import { outages } from "./outages.js";
import { powerQuality } from "./pq.js";

const root = document.getElementById("app");
let me = null;
let routed = false;
// fleetZone is the zone fleet-wide pages tell times in: the usage points'
// (a fleet is in one zone as a rule; a meter's page uses its own).
let fleetZone = "";

// A view owns its timers, charts and requests: leaving it cancels them
// all, so nothing of it runs against the next view's page.
let current = null;

function newView() {
  if (current) {
    current.ac.abort();
    current.timers.forEach(clearTimeout);
    current.charts.forEach((c) => c.destroy());
  }
  const ac = new AbortController();
  const v = {
    ac,
    signal: ac.signal,
    timers: [],
    charts: [],
    // get calls the API for this view.
    get: (path) => api(path, { signal: ac.signal }),
    // every runs f now and then ms after each run ends, until the view
    // is left; a failed run shows its error in errBox and tries again.
    every(ms, f, errBox) {
      const tick = async () => {
        if (ac.signal.aborted) return;
        try {
          await f();
          if (errBox) errBox.textContent = "";
        } catch (e) {
          if (ac.signal.aborted || e.name === "AbortError") return;
          if (errBox) errBox.textContent = e.message;
        }
        if (!ac.signal.aborted) v.timers.push(setTimeout(tick, ms));
      };
      tick();
    },
    chart(c) { v.charts.push(c); return c; },
  };
  current = v;
  return v;
}

async function start() {
  setUnauthenticated(() => { newView(); start(); });
  me = await whoami();
  if (!me) me = await showLogin(root, "amigo operator console");
  if (me.role === "consumer") {
    location.replace("/portal/");
    return;
  }
  fleetZone = await zoneOfFleet().catch(() => "");
  root.className = "";
  root.replaceChildren(
    el("header", { class: "top" },
      el("a", { class: "brand", href: "#/" }, "amigo"),
      el("nav", {},
        el("a", { href: "#/", "data-nav": "overview" }, "Fleet"),
        el("a", { href: "#/meters", "data-nav": "meters" }, "Meters"),
        el("a", { href: "#/commands", "data-nav": "commands" }, "Commands"),
        el("a", { href: "#/events", "data-nav": "events" }, "Events & alarms"),
        el("a", { href: "#/exceptions", "data-nav": "exceptions" }, "VEE exceptions"),
        canApprove(me) ? el("a", { href: "#/approvals", "data-nav": "approvals" }, "Approvals") : "",
        el("a", { href: "#/quarantine", "data-nav": "quarantine" }, "Quarantine"),
        el("a", { href: "#/collectors", "data-nav": "collectors" }, "Collectors"),
        el("a", { href: "#/outages", "data-nav": "outages" }, "Outages"),
        el("a", { href: "#/pq", "data-nav": "pq" }, "Power quality"),
        el("a", { href: "#/billing", "data-nav": "billing" }, "Billing"),
        el("a", { href: "#/dr", "data-nav": "dr" }, "Demand response")),
      el("span", { class: "who" }, fleetZone ? el("span", { class: "zone", title: "times are told in this zone" }, fleetZone) : "", `${me.user} · ${me.role}`, " ", el("button", { class: "link", onclick: logout }, "Sign out"))),
    el("main", { id: "view" }));
  if (!routed) {
    window.addEventListener("hashchange", route);
    routed = true;
  }
  route();
}

// zoneOfFleet is the zone of the first meter's usage point.
async function zoneOfFleet() {
  const p = await api("/api/v1/meters?limit=1");
  if (!p.items.length) return "";
  const m = await api("/api/v1/meters/" + encodeURIComponent(p.items[0].mRID));
  return m.timeZone || "";
}

function route() {
  const v = newView();
  const view = document.getElementById("view");
  if (!view) return;
  const h = location.hash.replace(/^#\/?/, "");
  const [page, arg] = h.split("/");
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === (page || "overview") || (page === "meter" && a.dataset.nav === "meters")));
  const pages = { "": overview, meters, meter, commands, events, exceptions, approvals,
    collectors: (view, v, arg) => collectors(view, v, arg),
    quarantine: (view, v) => quarantine(view, v, me, fleetZone),
    billing: (view, v, arg) => billing(view, v, me, fleetZone, arg),
    pq: (view, v, arg) => powerQuality(view, v, me, fleetZone, arg),
    dr: (view, v, arg) => demandResponse(view, v, me, fleetZone, arg),
    outages: (view, v, arg) => outages(view, v, me, fleetZone, arg) };
  const f = pages[page] || overview;
  view.replaceChildren();
  f(view, v, arg && decodeURIComponent(arg)).catch((e) => {
    if (v.signal.aborted || e.name === "AbortError") return;
    view.append(el("p", { class: "error" }, e.message));
  });
}

function card(title, value, sub, id) {
  return el("div", { class: "card", id }, el("div", { class: "card-title" }, title), el("div", { class: "card-value" }, value), el("div", { class: "card-sub" }, sub || ""));
}

// overview shows the fleet and the collection running now, refreshed every
// second so the numbers move while a run is going.
async function overview(view, v) {
  const cards = el("div", { class: "cards" });
  const progressBox = el("div", { id: "progress" });
  const causesBox = el("div", { id: "causes", class: "bars" });
  const trendTitle = el("h2", {}, "Meters read during the latest run");
  const trendBox = el("div", { id: "trend" });
  const readout = el("p", { class: "readout" });
  const alarmsBox = el("div", { id: "alarms" });
  const err = el("p", { class: "error" });
  view.append(el("h1", {}, "Fleet overview"), err, cards, el("div", { class: "grid" },
    el("section", { class: "panel" }, el("h2", {}, "Collection"), progressBox),
    el("section", { class: "panel" }, el("h2", {}, "Failures by cause"), causesBox),
    el("section", { class: "panel wide" }, trendTitle, trendBox, readout),
    el("section", { class: "panel wide" }, el("h2", {}, "Latest events and alarms"), alarmsBox)));

  const count = await v.get("/api/v1/meters?limit=1");
  const tz = fleetZone;
  // The chart follows one run: its samples start again with each run,
  // from the run's start with none done.
  let run = "", samples = [[], []], plot = null, xr = [0, 1], yr = [0, 1];
  v.every(1000, async () => {
    const p = await v.get("/api/v1/collection");
    // The cards are about the last whole day; intraday runs of today
    // re-read only what is new and would show a handful of readings.
    const now = Date.now();
    const today = dateIn(now, tz), yesterday = dateIn(now - 864e5, tz);
    const day = p.day && p.day !== "0000-00-00" && p.day !== today ? p.day : yesterday;
    let sum = null;
    try { sum = await v.get(`/api/v1/collection/${day}`); } catch (e) { if (e.name === "AbortError") throw e; /* no run of that day yet */ }
    const done = p.done || 0, total = p.total || 0;
    const success = sum && sum.total ? sum.ok / sum.total : (done ? p.ok / done : NaN);
    cards.replaceChildren(
      card("Meters", fmt.int(count.total), "registered, gas and water meters included", "c-meters"),
      card("Read success", fmt.pct(success), sum ? `${fmt.int(sum.ok)} of ${fmt.int(sum.total)} on ${day}` : "no run yet", "c-success"),
      card("Readings", fmt.int(sum ? sum.readings : 0), `collected for ${day}`, "c-readings"),
      card("Last collection", p.endedAt ? fmt.dmhm(p.endedAt, tz) : (p.running ? "running now" : "–"), p.startedAt ? "started " + fmt.time(p.startedAt, tz) : "", "c-last"));
    const pct = total ? done / total : 0;
    const bar = el("div", { class: "progress-bar", id: "progress-bar" });
    bar.style.width = (100 * pct).toFixed(1) + "%";
    const kind = p.kind ? ` (${p.kind})` : "";
    progressBox.replaceChildren(
      el("div", { class: "progress" + (p.running ? " running" : "") }, bar),
      el("p", { id: "progress-text" }, p.running ? `Collecting ${p.day}${kind}: ` : total ? `Last run, ${p.day}${kind}: ` : "No collection has run since the server started.",
        total ? `${fmt.int(done)} of ${fmt.int(total)} meters (${(100 * pct).toFixed(1)} %), ${fmt.int(p.ok)} read, ${fmt.int(p.failed)} failed, ${fmt.int(p.readings)} readings` : ""));
    const failed = (sum && sum.failed) || {};
    const entries = Object.entries(failed).sort((a, b) => b[1] - a[1]);
    const maxN = Math.max(1, ...entries.map((e) => e[1]));
    causesBox.replaceChildren(...(entries.length ? entries.map(([k, n]) => {
      const fill = el("span", { class: "bar-fill" });
      fill.style.width = (100 * n / maxN).toFixed(1) + "%";
      return el("div", { class: "bar-row" }, el("span", { class: "bar-label" }, k), el("span", { class: "bar" }, fill), el("span", { class: "bar-n" }, fmt.int(n)));
    }) : [el("p", { class: "muted" }, "No failures recorded.")]));

    if (!p.startedAt || !total) {
      trendBox.replaceChildren(el("p", { class: "muted" }, "No collection has run since the server started."));
      return;
    }
    const t0 = Date.parse(p.startedAt) / 1000;
    if (p.startedAt !== run) {
      run = p.startedAt;
      samples = [[t0], [0]];
      if (plot) { plot.destroy(); v.charts.splice(v.charts.indexOf(plot), 1); plot = null; }
    }
    const t = p.endedAt ? Date.parse(p.endedAt) / 1000 : now / 1000;
    const last = samples[1].length - 1;
    if (samples[1][last] !== done || (p.running && t > samples[0][last])) {
      if (t > samples[0][last]) { samples[0].push(t); samples[1].push(done); } else samples[1][last] = done;
      if (samples[0].length > 900) { samples[0].splice(1, 1); samples[1].splice(1, 1); }
    }
    trendTitle.textContent = `Meters read during the run of ${p.day}${kind}, started ${fmt.hms(p.startedAt, tz)}`;
    xr = [t0, Math.max(t, t0 + 10)];
    yr = [0, Math.max(1, total)];
    if (!plot) {
      trendBox.replaceChildren();
      const base = timeChart(tz, readout, (u, i) => `${fmt.hms(u.data[0][i] * 1e3, tz)}: ${fmt.int(u.data[1][i])} of ${fmt.int(total)} meters done`);
      plot = v.chart(new uPlot({
        ...chartSize(trendBox, 180), ...base,
        scales: { x: { time: true, range: () => xr }, y: { range: () => yr } },
        series: [{}, { label: "meters done", stroke: "#2563eb", fill: "rgba(37,99,235,0.12)", width: 2 }],
        axes: [base.axes[0], { label: "meters" }],
      }, samples, trendBox));
    } else {
      plot.setData(samples);
    }
  }, err);
  v.every(5000, async () => {
    const evs = await v.get("/api/v1/events?limit=12");
    alarmsBox.replaceChildren(eventTable(evs.items, tz));
  }, err);
}

function eventTable(items, tz, withMeter = true) {
  if (!items.length) return el("p", { class: "muted" }, "No events.");
  return el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "When"), withMeter ? el("th", {}, "Meter") : "", el("th", {}, "Event"), el("th", {}, "Severity"))),
    el("tbody", {}, items.map((e) => el("tr", { class: "sev-" + (e.severity || "info") },
      el("td", { class: "nowrap" }, fmt.time(e.createdDateTime || e.createdAt, tz)),
      withMeter ? el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(e.meter) }, e.meter)) : "",
      el("td", {}, e.reason || e.type, " ", el("code", {}, e.type)),
      el("td", {}, e.severity || el("span", { class: "muted" }, "–"))))));
}

// pager keeps the cursors of the pages before this one, so that a listing
// paged by a cursor can step back as well as on.
function pager(load, onError) {
  const stack = [];
  let cursor = "";
  const go = (f) => () => { f(); load().catch(onError); };
  return {
    cursor: () => cursor,
    first() { stack.length = 0; cursor = ""; return load(); },
    offset: () => stack.length,
    controls(p, shown, size, what) {
      const from = stack.length * size;
      const total = typeof p.total === "number" ? p.total : null;
      const more = p.next && (total === null || from + shown < total);
      const text = shown === 0 ? `no ${what}` : total === null ? `${what} ${fmt.int(from + 1)}–${fmt.int(from + shown)}` :
        `${what} ${fmt.int(from + 1)}–${fmt.int(from + shown)} of ${fmt.int(total)}`;
      return el("div", { class: "pager" },
        el("button", { class: "prev", disabled: stack.length === 0, onclick: go(() => { cursor = stack.pop() || ""; }) }, "‹ Previous"),
        el("span", { class: "page-info" }, text),
        el("button", { class: "next", disabled: !more, onclick: go(() => { stack.push(cursor); cursor = p.next; }) }, "Next ›"));
    },
  };
}

async function meters(view, v) {
  const form = el("form", { class: "filters" },
    el("input", { name: "segment", placeholder: "segment" }),
    el("input", { name: "region", placeholder: "region" }),
    el("select", { name: "status" }, el("option", { value: "" }, "any status"), ["installed", "active", "removed"].map((s) => el("option", { value: s }, s))),
    el("button", { type: "submit" }, "Filter"));
  const count = el("p", { class: "count", id: "meters-count" });
  const list = el("div", {});
  const pages = el("div", {});
  view.append(el("h1", {}, "Meters"), form, count, list, pages);
  const size = 50;
  const tz = fleetZone;
  const pg = pager(async () => {
    const f = new FormData(form);
    const q = new URLSearchParams({ limit: String(size) });
    for (const k of ["segment", "region", "status"]) if (f.get(k)) q.set(k, f.get(k));
    if (pg.cursor()) q.set("after", pg.cursor());
    const p = await v.get("/api/v1/meters?" + q);
    const today = dateIn(Date.now(), tz);
    count.textContent = `${fmt.int(p.total)} meters`;
    const rows = p.items.map((m) => {
      const c = m.collection;
      return el("tr", {},
        el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(m.mRID) }, m.mRID)),
        el("td", {}, m.kind || ""),
        el("td", {}, m.usagePoint || ""), el("td", {}, m.segment || ""), el("td", {}, m.region || ""),
        el("td", {}, m.status || ""),
        el("td", { class: "nowrap" }, c && c.lastOK ? fmt.time(c.lastOK, tz) : "never"),
        el("td", {}, c ? readBadge(c, today) : el("span", { class: "muted" }, "–")));
    });
    list.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ["Meter", "Kind", "Usage point", "Segment", "Region", "Status", "Last read", "Read status"].map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
    pages.replaceChildren(pg.controls(p, p.items.length, size, "meters"));
  }, (e) => showError(v, list)(e));
  form.addEventListener("submit", (e) => { e.preventDefault(); pg.first().catch(showError(v, list)); });
  await pg.first();
}

// exposureText says what a meter's exposure means, for its badge's title.
function exposureText(x) {
  if (x === "osgp-legacy") return "This meter still uses OSGP's legacy security: the OMA digest and RC4 are broken, " +
    "its key can be recovered from a few hundred forged messages. Move it to AES-128.";
  return "A known weakness of this meter's security: " + x;
}

// readBadge tells how a meter's latest run went. A day still under way
// (today's intraday reads) cannot be complete yet and is not a gap.
function readBadge(c, today) {
  const gaps = c.outcome === "ok" && !c.complete && c.day < today;
  const text = c.outcome !== "ok" ? c.outcome : gaps ? "read, with gaps" : "read";
  return el("span", { class: "badge " + (c.outcome !== "ok" ? "bad" : gaps ? "warn" : "good"), title: [`latest run: ${c.day}`, c.error, c.problems].filter(Boolean).join("\n") }, text);
}

function showError(v, box) {
  return (e) => {
    if (v.signal.aborted || e.name === "AbortError") return;
    box.replaceChildren(el("p", { class: "error" }, e.message));
  };
}

// meter is one meter: registers, relay, the load profile with its quality
// flags, events and commands, and the buttons that send commands. Times
// are the meter's usage point's.
async function meter(view, v, id) {
  const m = await v.get("/api/v1/meters/" + encodeURIComponent(id));
  const tz = m.timeZone || fleetZone;
  const toDay = dateIn(Date.now(), tz);
  const fromDay = dateIn(dayStart(toDay, tz) - 6 * 864e5 + 12 * 3600e3, tz);
  const chartBox = el("div", { id: "profile" });
  const readout = el("p", { class: "readout" });
  const legend = el("p", { class: "legend" },
    el("span", { class: "sw actual" }), "actual ", el("span", { class: "sw estimated" }), "estimated ",
    el("span", { class: "sw edited" }), "edited ", el("span", { class: "sw bad" }), "missing or suspect");
  const regs = el("div", {});
  const evs = el("div", {});
  const modelBox = el("div", { id: "object-model" });
  const cmds = el("div", { id: "commands" });
  const relayBox = el("div", { class: "cards small" });
  const notice = el("p", { id: "command-notice", class: "notice" });
  const err = el("p", { class: "error" });
  const canCommand = me.role === "operator" || me.role === "admin";
  const loadCommands = async () => {
    const cs = await v.get(`/api/v1/commands?meter=${encodeURIComponent(id)}&limit=10`);
    cmds.replaceChildren(commandTable(cs.items, false, tz));
  };
  const send = async (type) => {
    if (!confirm(`Send ${type} to meter ${id}?`)) return;
    try {
      const c = await api("/api/v1/commands", { method: "POST", body: { meter: id, type }, signal: v.signal });
      notice.textContent = c.status === "awaiting-approval" ? `${type} (${c.mRID.slice(0, 8)}…) awaits a second person's approval.` :
        `${type} sent (${c.mRID.slice(0, 8)}…); follow it under Commands below.`;
      await loadCommands();
    } catch (e) {
      if (e.name !== "AbortError") notice.textContent = e.message;
    }
  };
  const showStatus = (m) => {
    const r = m.relay, c = m.collection;
    relayBox.replaceChildren(
      card("Relay", r ? r.state : "unknown", r ? `${r.source === "command" ? "confirmed command" : "meter's log"}, ${fmt.time(r.at, tz)}${r.detail ? " · " + r.detail : ""}` : "no switching seen yet", "c-relay"),
      card("Last read", c && c.lastOK ? fmt.dmhm(c.lastOK, tz) : "never", c ? el("span", {}, `latest run ${c.day} `, readBadge(c, dateIn(Date.now(), tz))) : "no run in 14 days", "c-read"),
      card("Kind", m.kind || "–", [m.manufacturer, m.model].filter(Boolean).join(" "), "c-kind"),
      card("Time zone", tz || "–", m.usagePoint ? "usage point " + m.usagePoint : "no usage point", "c-zone"));
    relayBox.querySelector("#c-relay").classList.toggle("off", !!r && r.state !== "connected");
  };
  showStatus(m);
  view.append(
    el("h1", {}, "Meter ", el("span", { id: "meter-id" }, m.mRID),
      m.exposure ? el("span", { class: "badge warn", id: "meter-exposure", title: exposureText(m.exposure) }, "exposed: " + m.exposure) : ""),
    el("p", { class: "muted" }, [m.protocol, m.address, m.segment && "segment " + m.segment, m.region && "region " + m.region, m.status].filter(Boolean).join(" · ")),
    canCommand ? el("div", { class: "actions" },
      el("button", { class: "danger", id: "btn-disconnect", onclick: () => send("disconnect") }, "Disconnect"),
      el("button", { id: "btn-reconnect", onclick: () => send("reconnect") }, "Reconnect"),
      el("button", { id: "btn-clock", onclick: () => send("clock-sync") }, "Sync clock"), notice) : "",
    err, relayBox,
    el("section", { class: "panel wide" }, el("h2", {}, `Load profile, A+ per quarter hour, ${fromDay} to ${toDay}`), chartBox, legend, readout),
    el("div", { class: "grid" },
      el("section", { class: "panel" }, el("h2", {}, "Registers"), regs),
      el("section", { class: "panel" }, el("h2", {}, "Commands"), cmds),
      el("section", { class: "panel wide" }, el("h2", {}, "Events"), evs),
      el("section", { class: "panel wide" }, el("h2", {}, "What the head-end learned"), modelBox)));

  v.every(2000, loadCommands, err);
  v.every(5000, async () => showStatus(await v.get("/api/v1/meters/" + encodeURIComponent(id))), err);
  const r = await v.get(`/api/v1/meters/${encodeURIComponent(id)}/readings?channel=${encodeURIComponent("A+15m")}&from=${fromDay}&to=${toDay}`);
  const xs = [], actual = [], estimated = [], edited = [], bad = [], flags = [];
  const nowS = Date.now() / 1000;
  for (const d of r.days) {
    const t0 = Date.parse(d.start) / 1000;
    d.values.forEach((val, i) => {
      const q = d.quality[i];
      const end = t0 + (i + 1) * d.intervalSeconds;
      if (end > nowS) return; // not due yet: neither a reading nor a gap
      xs.push(end);
      flags.push(q);
      const miss = q & Q.missing;
      actual.push(miss || q & (Q.estimated | Q.edited) ? null : val);
      estimated.push(q & Q.estimated ? val : null);
      edited.push(q & Q.edited ? val : null);
      bad.push(miss || q & (Q.suspect | Q.notValid) ? (miss ? 0 : val) : null);
    });
  }
  if (xs.length === 0) {
    chartBox.replaceChildren(el("p", { class: "muted" }, "No interval data stored for this week."));
  } else {
    const pts = (stroke) => ({ stroke, paths: () => null, points: { show: true, size: 6, fill: stroke, stroke } });
    const values = [actual, estimated, edited, bad];
    const base = timeChart(tz, readout, (u, i) => {
      const val = values.map((s) => s[i]).find((x) => x !== null && x !== undefined);
      const q = flags[i];
      const what = q & Q.missing ? "missing" : val === undefined ? "–" : `${fmt.int(val)} Wh`;
      return `quarter hour to ${fmt.dmhm(xs[i] * 1e3, tz)}: ${what}${q && !(q & Q.missing) ? " (" + qualityNames(q) + ")" : ""}`;
    });
    v.chart(new uPlot({
      ...chartSize(chartBox, 260), ...base,
      series: [{}, { label: "actual", stroke: "#2563eb", width: 1.5 }, { label: "estimated", ...pts("#f59e0b") }, { label: "edited", ...pts("#7c3aed") }, { label: "missing/suspect", ...pts("#dc2626") }],
      axes: [base.axes[0], { label: "Wh" }],
    }, [xs, actual, estimated, edited, bad], chartBox));
  }
  const lr = await v.get(`/api/v1/meters/${encodeURIComponent(id)}/registers/latest`);
  regs.replaceChildren(lr.registers.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Register"), el("th", { class: "num" }, "Value"), el("th", {}, "Read at"))),
    el("tbody", {}, lr.registers.map((g) =>
      el("tr", {}, el("th", {}, g.readingType), el("td", { class: "num" }, register(g.readingType, g.value)), el("td", { class: "nowrap" }, fmt.time(g.timeStamp, tz)))))) : el("p", { class: "muted" }, "No register reads yet."));
  const ev = await v.get(`/api/v1/events?meter=${encodeURIComponent(id)}&limit=20`);
  evs.replaceChildren(eventTable(ev.items, tz, false));
  modelBox.replaceChildren(await objectModel(v, id, tz));
}

// objectModel shows the meter's object model as discovered: its template,
// the quirks learned of its kind, and the channels its objects become.
async function objectModel(v, id, tz) {
  const om = await v.get(`/api/v1/meters/${encodeURIComponent(id)}/object-model`);
  if (!om.model) return el("p", { class: "muted" }, "Nothing learned yet: the meter was never read.");
  const m = om.model, q = m.quirks || {};
  const quirks = [
    q.lists === "broken" ? "read one object at a time (" + (q.listsWhy || "lists fail") + ")" : q.lists === "ok" ? "answers lists" : "lists not tried yet",
    q.range === "entry" ? "profiles by entry (range refused)" : q.range === "buffer" ? "profiles read whole (range and entry refused)" : "",
    (q.crashed || []).length ? "never sent again: " + q.crashed.join(", ") : "",
    q.wrappedClock ? "clock wrapped twice" : "",
  ].filter(Boolean).join(" · ");
  return el("div", {},
    el("p", { id: "om-template" }, el("strong", {}, m.key), m.firmware ? ` · firmware ${m.firmware}` : "",
      ` · ${(m.objects || []).length} objects, ${(m.profiles || []).length} profiles · discovered ${fmt.time(m.discoveredAt, tz)}`),
    el("p", { class: "muted", id: "om-quirks" }, quirks),
    el("table", { id: "om-channels" }, el("thead", {}, el("tr", {}, el("th", {}, "Channel"), el("th", {}, "From"), el("th", {}, "Object"), el("th", {}, "Unit"), el("th", { class: "num" }, "Scale"))),
      el("tbody", {}, om.channels.map((c) => el("tr", { class: c.raw ? "raw" : "" },
        el("th", {}, c.readingType), el("td", {}, c.source === "register" ? "register" : `${c.source} ${c.profile}`), el("td", {}, c.object),
        el("td", {}, c.unit || ""), el("td", { class: "num" }, "10^" + (c.multiplier || 0)))))),
    (m.notes || []).length ? el("p", { class: "muted" }, "Could not read: " + m.notes.join("; ")) : "");
}

const qualityList = ["missing", "estimated", "edited", "suspect", "power down", "clock adjusted", "not valid", "overflow", "partial"];
function qualityNames(q) {
  return qualityList.filter((_, i) => q & (1 << i)).join(", ");
}

function commandTable(items, withMeter, tz) {
  if (!items.length) return el("p", { class: "muted" }, "No commands.");
  return el("table", {}, el("thead", {}, el("tr", {}, withMeter ? el("th", {}, "Meter") : "", el("th", {}, "Command"), el("th", {}, "Status"), el("th", {}, "Reason"), el("th", {}, "Updated"))),
    el("tbody", {}, items.map((c) => el("tr", { class: "status-" + c.status, "data-command": c.mRID },
      withMeter ? el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(c.meter) }, c.meter)) : "",
      el("td", {}, c.type), el("td", { class: "status" }, c.status), el("td", {}, c.reason || ""), el("td", { class: "nowrap" }, fmt.time(c.updatedDateTime || c.createdDateTime, tz))))));
}

async function commands(view, v) {
  const box = el("div", {});
  const err = el("p", { class: "error" });
  view.append(el("h1", {}, "Commands"), el("p", { class: "muted" }, "The 50 newest commands, refreshed every two seconds."), err, box);
  v.every(2000, async () => {
    const cs = await v.get("/api/v1/commands?limit=50");
    box.replaceChildren(commandTable(cs.items, true, fleetZone));
  }, err);
}

// The event types meters report, for the filter.
const eventTypes = [
  ["3.26.0.85", "power down"], ["3.26.0.216", "power up"], ["3.31.0.68", "relay opened"], ["3.31.0.42", "relay closed"],
  ["3.31.0.2", "ready for reconnection"], ["3.12.29.39", "terminal cover opened"], ["3.12.29.212", "meter cover opened"],
  ["3.12.66.219", "strong magnetic field"], ["3.12.1.35", "authentication failures"], ["3.26.38.93", "over voltage or limiter"],
  ["3.26.38.150", "under voltage"], ["3.36.114.24", "clock adjusted"], ["3.36.114.79", "clock invalid"],
];

function dateInputs() {
  return [el("label", {}, "from ", el("input", { type: "date", name: "from" })), el("label", {}, "to ", el("input", { type: "date", name: "to" }))];
}

function perPage(size) {
  return el("select", { name: "limit", title: "rows per page" }, [10, 25, 50, 100, 200].map((n) => el("option", { value: String(n), selected: n === size }, `${n} per page`)));
}

async function events(view, v) {
  const form = el("form", { class: "filters", id: "event-filters" },
    el("input", { name: "meter", placeholder: "meter" }),
    el("select", { name: "type" }, el("option", { value: "" }, "any type"), eventTypes.map(([t, n]) => el("option", { value: t }, `${n} (${t})`))),
    el("select", { name: "severity" }, el("option", { value: "" }, "any severity"), ["critical", "major", "warning", "info"].map((s) => el("option", { value: s }, s))),
    ...dateInputs(), perPage(100),
    el("button", { type: "submit" }, "Filter"));
  const count = el("p", { class: "count", id: "events-count" });
  const box = el("div", { id: "events-list" });
  const pages = el("div", { id: "events-pages" });
  const err = el("p", { class: "error" });
  const tz = fleetZone;
  view.append(el("h1", {}, "Events and alarms"), el("p", { class: "muted" }, `Newest first; dates and times in ${tz || "this browser's zone"}.`), form, err, count, box, pages);
  const pg = pager(async () => {
    const f = new FormData(form);
    const size = Number(f.get("limit"));
    const q = new URLSearchParams({ limit: String(size) });
    for (const k of ["meter", "type", "severity"]) if (f.get(k)) q.set(k, f.get(k).trim());
    // The dates are the fleet's local days.
    if (f.get("from")) q.set("from", new Date(dayStart(f.get("from"), tz)).toISOString());
    if (f.get("to")) q.set("to", new Date(dayStart(dateIn(dayStart(f.get("to"), tz) + 36 * 3600e3, tz), tz)).toISOString());
    if (pg.cursor()) q.set("after", pg.cursor());
    const p = await v.get("/api/v1/events?" + q);
    count.textContent = typeof p.total === "number" ? `${fmt.int(p.total)} events` : "";
    box.replaceChildren(eventTable(p.items, tz));
    pages.replaceChildren(pg.controls(p, p.items.length, size, "events"));
  }, (e) => showError(v, box)(e));
  form.addEventListener("submit", (e) => { e.preventDefault(); pg.first().catch(showError(v, box)); });
  // The first page follows new events; a later one stays put.
  v.every(10000, () => (pg.offset() === 0 ? pg.first() : undefined), err);
}

async function exceptions(view, v) {
  const form = el("form", { class: "filters", id: "exception-filters" },
    el("input", { name: "meter", placeholder: "meter" }),
    el("select", { name: "rule" }, el("option", { value: "" }, "any rule"), veeRules.map((r) => el("option", { value: r }, r))),
    el("select", { name: "open" }, el("option", { value: "true" }, "open"), el("option", { value: "" }, "open and resolved")),
    ...dateInputs(), perPage(50),
    el("button", { type: "submit" }, "Filter"));
  const count = el("p", { class: "count", id: "exceptions-count" });
  const box = el("div", { id: "exceptions-list" });
  const pages = el("div", { id: "exceptions-pages" });
  const tz = fleetZone;
  view.append(el("h1", {}, "VEE exceptions"),
    el("p", { class: "muted" }, "Days that failed validation, one row per meter, day and rule, in the order they were raised. Resolve one once it is explained or edited."),
    form, count, box, pages);
  const pg = pager(async () => {
    const f = new FormData(form);
    const size = Number(f.get("limit"));
    const q = new URLSearchParams({ limit: String(size) });
    for (const k of ["meter", "rule", "open", "from", "to"]) if (f.get(k)) q.set(k, f.get(k).trim());
    if (pg.cursor()) q.set("after", pg.cursor());
    const p = await v.get("/api/v1/exceptions?" + q);
    count.textContent = typeof p.total === "number" ? `${fmt.int(p.total)} ${f.get("open") ? "open " : ""}exceptions` : "";
    box.replaceChildren(p.items.length ? el("table", {}, el("thead", {}, el("tr", {}, ["Meter", "Day", "Channel", "Rule", "Intervals", "Reason", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, p.items.map((x) => el("tr", { class: x.open ? "" : "resolved" },
        el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(x.meter) }, x.meter)), el("td", { class: "nowrap" }, x.day), el("td", {}, x.channel),
        el("td", { class: "nowrap" }, el("code", {}, x.rule)), el("td", { class: "nowrap" }, intervalsOf(x, tz)),
        el("td", {}, x.reason, x.unit && !x.reason.includes(x.unit) ? ` (${x.unit})` : ""),
        el("td", {}, x.open ? el("button", { onclick: async () => {
          const why = prompt("Resolution (what explains it, or what was done):");
          if (!why) return;
          try {
            await api(`/api/v1/exceptions/${x.id}/resolve`, { method: "POST", body: { resolution: why }, signal: v.signal });
            await pg.reload();
          } catch (e) { showError(v, box)(e); }
        } }, "Resolve") : el("span", { class: "muted", title: x.resolution || "" }, "resolved by " + (x.resolvedBy || "–"))))))) :
      el("p", { class: "muted" }, "No exceptions match."));
    pages.replaceChildren(pg.controls(p, p.items.length, size, "exceptions"));
  }, (e) => showError(v, box)(e));
  pg.reload = () => pg.first();
  form.addEventListener("submit", (e) => { e.preventDefault(); pg.first().catch(showError(v, box)); });
  await pg.first();
}

// intervalsOf says which intervals of its day an exception covers: the
// whole day, or how many from which local time.
function intervalsOf(x, tz) {
  const n = typeof x.intervals === "number" ? x.intervals : (x.interval < 0 ? 0 : 1);
  if (n === 0 || x.interval < 0) return "whole day";
  const step = /15m$/.test(x.channel) ? 900 : /1h$/.test(x.channel) ? 3600 : 0;
  const at = step ? " from " + fmt.hm(dayStart(x.day, tz) + x.interval * step * 1e3, tz) : ` from #${x.interval}`;
  return `${fmt.int(n)}${at}`;
}

// The validation rules, by the names exceptions carry (mdm/vee).
const veeRules = ["missing", "spike", "zero-while-energised", "consumption-while-disconnected", "negative", "register-rollover",
  "high-low-vs-history", "sum-check", "clock-adjusted", "data-not-valid", "duplicate-differs", "demand-limit", "power-down", "consumption-drop"];

start().catch((e) => root.replaceChildren(el("p", { class: "error" }, e.message)));
