// The operator console: fleet overview with the running collection, the
// meters, one meter's registers, load profile, events and commands, the
// command queue, events and alarms, and the VEE exceptions.
import { api, whoami, showLogin, logout, setUnauthenticated, el, fmt, Q, isoDate, chartSize } from "./common.js";

const root = document.getElementById("app");
let me = null;
let timers = [];
let charts = [];

function clearView() {
  timers.forEach(clearInterval);
  timers = [];
  charts.forEach((c) => c.destroy());
  charts = [];
}

function every(ms, f) {
  f();
  timers.push(setInterval(f, ms));
}

async function start() {
  setUnauthenticated(() => { clearView(); start(); });
  me = await whoami();
  if (!me) me = await showLogin(root, "amigo operator console");
  if (me.role === "consumer") {
    location.replace("/portal/");
    return;
  }
  root.className = "";
  root.replaceChildren(
    el("header", { class: "top" },
      el("a", { class: "brand", href: "#/" }, "amigo"),
      el("nav", {},
        el("a", { href: "#/", "data-nav": "overview" }, "Fleet"),
        el("a", { href: "#/meters", "data-nav": "meters" }, "Meters"),
        el("a", { href: "#/commands", "data-nav": "commands" }, "Commands"),
        el("a", { href: "#/events", "data-nav": "events" }, "Events & alarms"),
        el("a", { href: "#/exceptions", "data-nav": "exceptions" }, "VEE exceptions")),
      el("span", { class: "who" }, `${me.user} · ${me.role}`, " ", el("button", { class: "link", onclick: logout }, "Sign out"))),
    el("main", { id: "view" }));
  window.addEventListener("hashchange", route);
  route();
}

function route() {
  clearView();
  const view = document.getElementById("view");
  const h = location.hash.replace(/^#\/?/, "");
  const [page, arg] = h.split("/");
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === (page || "overview") || (page === "meter" && a.dataset.nav === "meters")));
  const pages = { "": overview, meters, meter, commands, events, exceptions };
  const f = pages[page] || overview;
  view.replaceChildren();
  f(view, arg && decodeURIComponent(arg)).catch((e) => view.replaceChildren(el("p", { class: "error" }, e.message)));
}

function card(title, value, sub, id) {
  return el("div", { class: "card", id }, el("div", { class: "card-title" }, title), el("div", { class: "card-value" }, value), el("div", { class: "card-sub" }, sub || ""));
}

// overview shows the fleet and the collection running now, refreshed every
// second so the numbers move while a run is going.
async function overview(view) {
  const cards = el("div", { class: "cards" });
  const progress = el("section", { class: "panel" }, el("h2", {}, "Collection"), el("div", { id: "progress" }));
  const causes = el("section", { class: "panel" }, el("h2", {}, "Failures by cause"), el("div", { id: "causes", class: "bars" }));
  const trend = el("section", { class: "panel wide" }, el("h2", {}, "Meters read during this run"), el("div", { id: "trend" }));
  const alarms = el("section", { class: "panel wide" }, el("h2", {}, "Latest events and alarms"), el("div", { id: "alarms" }));
  view.append(el("h1", {}, "Fleet overview"), cards, el("div", { class: "grid" }, progress, causes, trend, alarms));

  const count = await api("/api/v1/meters?limit=1");
  const samples = [[], []];
  let plot = null;
  every(1000, async () => {
    let p;
    try { p = await api("/api/v1/collection"); } catch (e) { return; }
    // The cards are about the last whole day; intraday runs of today
    // re-read only what is new and would show a handful of readings.
    const today = isoDate(new Date()), yesterday = isoDate(new Date(Date.now() - 864e5));
    const day = p.day && p.day !== "0000-00-00" && p.day !== today ? p.day : yesterday;
    let sum = null;
    try { sum = await api(`/api/v1/collection/${day}`); } catch { /* no run yet */ }
    const done = p.done || 0, total = p.total || 0;
    const success = sum && sum.total ? sum.ok / sum.total : (done ? p.ok / done : NaN);
    cards.replaceChildren(
      card("Meters", fmt.int(count.total), "registered, gas and water meters included", "c-meters"),
      card("Read success", fmt.pct(success), sum ? `${fmt.int(sum.ok)} of ${fmt.int(sum.total)} on ${day}` : "no run yet", "c-success"),
      card("Readings", fmt.int(sum ? sum.readings : p.readings), `collected for ${day}`, "c-readings"),
      card("Last collection", p.endedAt ? fmt.time(p.endedAt) : (p.running ? "running now" : "–"), p.startedAt ? "started " + fmt.time(p.startedAt) : "", "c-last"));
    const pct = total ? done / total : 0;
    document.getElementById("progress").replaceChildren(
      el("div", { class: "progress" + (p.running ? " running" : "") }, el("div", { class: "progress-bar", style: undefined, id: "progress-bar" })),
      el("p", { id: "progress-text" }, p.running ? `Collecting ${p.day}: ` : total ? `Last run, ${p.day}: ` : "No collection has run since the server started.",
        total ? `${fmt.int(done)} of ${fmt.int(total)} meters (${(100 * pct).toFixed(1)} %), ${fmt.int(p.ok)} read, ${fmt.int(p.failed)} failed, ${fmt.int(p.readings)} readings` : ""));
    document.getElementById("progress-bar").style.width = (100 * pct).toFixed(1) + "%";
    const failed = (sum && sum.failed) || {};
    const entries = Object.entries(failed).sort((a, b) => b[1] - a[1]);
    const maxN = Math.max(1, ...entries.map((e) => e[1]));
    document.getElementById("causes").replaceChildren(...(entries.length ? entries.map(([k, v]) => {
      const bar = el("span", { class: "bar-fill" });
      bar.style.width = (100 * v / maxN).toFixed(1) + "%";
      return el("div", { class: "bar-row" }, el("span", { class: "bar-label" }, k), el("span", { class: "bar" }, bar), el("span", { class: "bar-n" }, fmt.int(v)));
    }) : [el("p", { class: "muted" }, "No failures recorded.")]));
    if (p.running || samples[0].length === 0 || samples[1][samples[1].length - 1] !== done) {
      samples[0].push(Date.now() / 1000);
      samples[1].push(done);
      if (samples[0].length > 600) { samples[0].shift(); samples[1].shift(); }
    }
    const tnode = document.getElementById("trend");
    if (!plot && tnode) {
      plot = new uPlot({ ...chartSize(tnode, 180), series: [{}, { label: "meters done", stroke: "#2563eb", fill: "rgba(37,99,235,0.12)" }], axes: [{}, { label: "meters" }] }, samples, tnode);
      charts.push(plot);
    } else if (plot) {
      plot.setData(samples);
    }
  });
  every(5000, async () => {
    const evs = await api("/api/v1/events?limit=12");
    document.getElementById("alarms").replaceChildren(eventTable(evs.items));
  });
}

function eventTable(items) {
  if (!items.length) return el("p", { class: "muted" }, "No events.");
  return el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Meter"), el("th", {}, "Event"), el("th", {}, "Severity"))),
    el("tbody", {}, items.map((e) => el("tr", { class: "sev-" + (e.severity || "info") },
      el("td", {}, fmt.time(e.createdDateTime || e.createdAt)),
      el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(e.meter) }, e.meter)),
      el("td", {}, e.reason || e.type, " ", el("code", {}, e.type)),
      el("td", {}, e.severity || "")))));
}

async function meters(view) {
  const form = el("form", { class: "filters" },
    el("input", { name: "segment", placeholder: "segment" }),
    el("input", { name: "region", placeholder: "region" }),
    el("button", { type: "submit" }, "Filter"));
  const list = el("div", {});
  view.append(el("h1", {}, "Meters"), form, list);
  let after = "";
  const load = async (reset) => {
    if (reset) after = "";
    const f = new FormData(form);
    const q = new URLSearchParams({ limit: "50" });
    for (const k of ["segment", "region"]) if (f.get(k)) q.set(k, f.get(k));
    if (after) q.set("after", after);
    const p = await api("/api/v1/meters?" + q);
    const rows = p.items.map((m) => el("tr", {},
      el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(m.mRID) }, m.mRID)),
      el("td", {}, m.usagePoint || ""), el("td", {}, m.segment || ""), el("td", {}, m.region || ""),
      el("td", {}, m.protocol || ""), el("td", {}, m.status || "")));
    list.replaceChildren(el("p", { class: "muted" }, `${fmt.int(p.total)} meters`),
      el("table", {}, el("thead", {}, el("tr", {}, ["Meter", "Usage point", "Segment", "Region", "Protocol", "Status"].map((h) => el("th", {}, h)))), el("tbody", {}, rows)),
      p.next ? el("button", { onclick: () => { after = p.next; load(false); } }, "Next page") : "");
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); load(true); });
  await load(true);
}

// meter is one meter: registers, the load profile with its quality flags,
// events and commands, and the buttons that send commands.
async function meter(view, id) {
  const m = await api("/api/v1/meters/" + encodeURIComponent(id));
  const to = new Date();
  const from = new Date(to.getTime() - 6 * 864e5);
  const chartBox = el("div", { id: "profile" });
  const legend = el("p", { class: "legend" },
    el("span", { class: "sw actual" }), "actual ", el("span", { class: "sw estimated" }), "estimated ",
    el("span", { class: "sw edited" }), "edited ", el("span", { class: "sw bad" }), "missing or suspect");
  const regs = el("div", {});
  const evs = el("div", {});
  const cmds = el("div", { id: "commands" });
  const notice = el("p", { id: "command-notice", class: "notice" });
  const canCommand = me.role === "operator" || me.role === "admin";
  const send = async (type) => {
    if (!confirm(`Send ${type} to meter ${id}?`)) return;
    try {
      const c = await api("/api/v1/commands", { method: "POST", body: { meter: id, type } });
      notice.textContent = `${type} sent (${c.mRID.slice(0, 8)}…); follow it under Commands below.`;
      loadCommands();
    } catch (e) {
      notice.textContent = e.message;
    }
  };
  view.append(
    el("h1", {}, "Meter ", el("span", { id: "meter-id" }, m.mRID)),
    el("p", { class: "muted" }, [m.manufacturer, m.model, m.protocol, m.address, m.segment && "segment " + m.segment, m.usagePoint && "usage point " + m.usagePoint].filter(Boolean).join(" · ")),
    canCommand ? el("div", { class: "actions" },
      el("button", { class: "danger", id: "btn-disconnect", onclick: () => send("disconnect") }, "Disconnect"),
      el("button", { id: "btn-reconnect", onclick: () => send("reconnect") }, "Reconnect"),
      el("button", { id: "btn-clock", onclick: () => send("clock-sync") }, "Sync clock"), notice) : "",
    el("section", { class: "panel wide" }, el("h2", {}, `Load profile, A+ per quarter hour, ${isoDate(from)} to ${isoDate(to)}`), chartBox, legend),
    el("div", { class: "grid" },
      el("section", { class: "panel" }, el("h2", {}, "Registers"), regs),
      el("section", { class: "panel" }, el("h2", {}, "Commands"), cmds),
      el("section", { class: "panel wide" }, el("h2", {}, "Events"), evs)));

  const r = await api(`/api/v1/meters/${encodeURIComponent(id)}/readings?channel=${encodeURIComponent("A+15m")}&from=${isoDate(from)}&to=${isoDate(to)}`);
  const xs = [], actual = [], estimated = [], edited = [], bad = [];
  const nowS = Date.now() / 1000;
  for (const d of r.days) {
    const t0 = Date.parse(d.start) / 1000;
    d.values.forEach((v, i) => {
      const q = d.quality[i];
      const end = t0 + (i + 1) * d.intervalSeconds;
      if (end > nowS) return; // not due yet: neither a reading nor a gap
      xs.push(end);
      const miss = q & Q.missing;
      actual.push(miss || q & (Q.estimated | Q.edited) ? null : v);
      estimated.push(q & Q.estimated ? v : null);
      edited.push(q & Q.edited ? v : null);
      bad.push(miss || q & (Q.suspect | Q.notValid) ? (miss ? 0 : v) : null);
    });
  }
  if (xs.length === 0) {
    chartBox.replaceChildren(el("p", { class: "muted" }, "No interval data stored for this week."));
  } else {
    const pts = (stroke) => ({ stroke, paths: () => null, points: { show: true, size: 6, fill: stroke, stroke } });
    charts.push(new uPlot({
      ...chartSize(chartBox, 260),
      series: [{}, { label: "actual Wh", stroke: "#2563eb", width: 1.5 }, { label: "estimated", ...pts("#f59e0b") }, { label: "edited", ...pts("#7c3aed") }, { label: "missing/suspect", ...pts("#dc2626") }],
      axes: [{}, { label: "Wh" }],
    }, [xs, actual, estimated, edited, bad], chartBox));
  }
  const lr = await api(`/api/v1/meters/${encodeURIComponent(id)}/registers/latest`);
  regs.replaceChildren(lr.registers.length ? el("table", {}, el("tbody", {}, lr.registers.map((g) =>
    el("tr", {}, el("th", {}, g.readingType), el("td", { class: "num" }, fmt.int(g.value)), el("td", {}, fmt.time(g.timeStamp)))))) : el("p", { class: "muted" }, "No register reads yet."));
  const ev = await api(`/api/v1/events?meter=${encodeURIComponent(id)}&limit=20`);
  evs.replaceChildren(eventTable(ev.items));
  const loadCommands = async () => {
    const cs = await api(`/api/v1/commands?meter=${encodeURIComponent(id)}&limit=10`);
    cmds.replaceChildren(commandTable(cs.items, false));
  };
  every(2000, loadCommands);
}

function commandTable(items, withMeter) {
  if (!items.length) return el("p", { class: "muted" }, "No commands.");
  return el("table", {}, el("thead", {}, el("tr", {}, withMeter ? el("th", {}, "Meter") : "", el("th", {}, "Command"), el("th", {}, "Status"), el("th", {}, "Reason"), el("th", {}, "Updated"))),
    el("tbody", {}, items.map((c) => el("tr", { class: "status-" + c.status, "data-command": c.mRID },
      withMeter ? el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(c.meter) }, c.meter)) : "",
      el("td", {}, c.type), el("td", { class: "status" }, c.status), el("td", {}, c.reason || ""), el("td", {}, fmt.time(c.updatedDateTime || c.createdDateTime))))));
}

async function commands(view) {
  const box = el("div", {});
  view.append(el("h1", {}, "Commands"), box);
  every(2000, async () => {
    const cs = await api("/api/v1/commands?limit=50");
    box.replaceChildren(commandTable(cs.items, true));
  });
}

async function events(view) {
  const box = el("div", {});
  view.append(el("h1", {}, "Events and alarms"), box);
  every(5000, async () => {
    const evs = await api("/api/v1/events?limit=100");
    box.replaceChildren(eventTable(evs.items));
  });
}

async function exceptions(view) {
  const box = el("div", {});
  view.append(el("h1", {}, "VEE exceptions"), el("p", { class: "muted" }, "Intervals and days that failed validation, oldest first. Resolve one once it is explained or edited."), box);
  const load = async () => {
    const p = await api("/api/v1/exceptions?open=true&limit=200");
    box.replaceChildren(p.items.length ? el("table", {}, el("thead", {}, el("tr", {}, ["Meter", "Day", "Channel", "Rule", "Interval", "Reason", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, p.items.map((x) => el("tr", {},
        el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(x.meter) }, x.meter)), el("td", {}, x.day), el("td", {}, x.channel),
        el("td", {}, el("code", {}, x.rule)), el("td", { class: "num" }, x.interval < 0 ? "day" : x.interval), el("td", {}, x.reason),
        el("td", {}, el("button", { onclick: async () => {
          const why = prompt("Resolution (what explains it, or what was done):");
          if (!why) return;
          await api(`/api/v1/exceptions/${x.id}/resolve`, { method: "POST", body: { resolution: why } });
          load();
        } }, "Resolve")))))) : el("p", { class: "muted" }, "No open exceptions."));
  };
  await load();
}

start().catch((e) => root.replaceChildren(el("p", { class: "error" }, e.message)));
