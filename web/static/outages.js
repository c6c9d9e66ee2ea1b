// The outages page: the network tree (substation, feeder, transformer)
// and a map of its devices coloured by state, the open and recent
// outages with the customers they cut off, and the IEEE 1366 reliability
// indices of a chosen period.
import { api, el, fmt, isoDate } from "./common.js";

// The states a device is drawn in, worst first, and what they mean.
const states = [
  ["out", "open outage"],
  ["restored", "restored, not verified"],
  ["momentary", "momentary in the last 24 h"],
  ["normal", "normal"],
];
const stateBadge = { suspected: "bad", confirmed: "bad", restored: "warn", momentary: "warn", verified: "good", dismissed: "" };

// The page's own style sheet, linked once (the policy allows no inline
// styles).
function addStyle() {
  if (document.getElementById("outages-style")) return;
  document.head.append(el("link", { id: "outages-style", rel: "stylesheet", href: "/static/outages.css" }));
}

function legend() {
  return el("p", { class: "muted", id: "outage-legend" }, states.map(([s, t]) => el("span", { class: "st-" + s }, el("span", { class: "st-dot legend" }), t)));
}

// tree draws substations, their feeders and transformers as nested lists.
function tree(devices) {
  const kids = new Map();
  for (const d of devices) {
    const p = d.parent || "";
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(d);
  }
  // A feeder's transformers fold away while they are all normal: a
  // network has hundreds of feeders, and the eye goes to the coloured.
  const calm = (id) => (kids.get(id) || []).every((k) => k.state === "normal" && calm(k.id));
  const branch = (parent) => {
    const ds = kids.get(parent) || [];
    if (!ds.length) return "";
    return el("ul", { class: parent ? "" : "grid-tree" }, ds.map((d) => {
      const sub = branch(d.id);
      return el("li", { class: "st-" + d.state, "data-device": d.id, "data-state": d.state, "data-level": d.level },
        el("span", { class: "st-dot", title: d.state }), el("code", {}, d.id), el("span", { class: "level" }, `${d.level} · ${fmt.int(d.customers)} customer${d.customers === 1 ? "" : "s"}`),
        d.outage ? el("span", { class: "level" }, " · " + d.outage) : "",
        sub && d.level === "feeder" ? el("details", { open: !calm(d.id) }, el("summary", { class: "level" }, `${kids.get(d.id).length} transformers`), sub) : sub);
    }));
  };
  return devices.length ? branch("") : el("p", { class: "muted" }, "No topology loaded.");
}

// map draws the devices with a position at their latitude and longitude
// (equirectangular, shrunk by the cosine of the latitude), each joined to
// its parent; no tiles, so it works without the internet.
function map(devices) {
  const placed = devices.filter((d) => d.lat || d.lon);
  if (!placed.length) return el("p", { class: "muted" }, "No device has a position.");
  const W = 900, H = 520, pad = 30;
  const lats = placed.map((d) => d.lat), lons = placed.map((d) => d.lon);
  const k = Math.cos(((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI / 180);
  const x0 = Math.min(...lons) * k, x1 = Math.max(...lons) * k, y0 = Math.min(...lats), y1 = Math.max(...lats);
  const s = Math.min((W - 2 * pad) / (x1 - x0 || 1), (H - 2 * pad) / (y1 - y0 || 1));
  const xy = (d) => [pad + (d.lon * k - x0) * s, H - pad - (d.lat - y0) * s];
  const by = new Map(placed.map((d) => [d.id, d]));
  const ns = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, ...kids) => {
    const n = document.createElementNS(ns, tag);
    for (const [a, v] of Object.entries(attrs)) n.setAttribute(a, v);
    n.append(...kids);
    return n;
  };
  const r = { substation: 9, feeder: 6, transformer: 4 };
  const lines = placed.filter((d) => by.has(d.parent)).map((d) => {
    const [xa, ya] = xy(d), [xb, yb] = xy(by.get(d.parent));
    return svg("line", { x1: xa, y1: ya, x2: xb, y2: yb });
  });
  const dots = placed.slice().sort((a, b) => (r[a.level] || 3) - (r[b.level] || 3)).reverse().map((d) => {
    const [x, y] = xy(d);
    const c = svg("circle", { cx: x, cy: y, r: r[d.level] || 3, class: "st-" + d.state, "data-device": d.id, "data-state": d.state });
    c.append(svg("title", {}, `${d.level} ${d.id}: ${d.state}, ${d.customers} customers`));
    return c;
  });
  const labels = placed.filter((d) => d.level === "substation").map((d) => {
    const [x, y] = xy(d);
    return svg("text", { x: x + 11, y: y + 4 }, d.id);
  });
  return svg("svg", { class: "grid-map", id: "outage-map-svg", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "map of the network's devices" }, ...lines, ...dots, ...labels);
}

function outagesTable(items, tz) {
  if (!items.length) return el("p", { class: "muted" }, "No open outage, nor any in the last 24 hours.");
  return el("table", {},
    el("thead", {}, el("tr", {}, ["Outage", "Level", "Device", "Feeder", "State", "Start", "End", "Customers", "Confidence", "Evidence"].map((h) => el("th", {}, h)))),
    el("tbody", {}, items.map((o) => el("tr", { "data-outage": o.id, "data-state": o.state, class: "state-" + o.state + (o.end ? "" : " open") },
      el("td", {}, el("a", { href: "#/outages/" + encodeURIComponent(o.id) }, o.id), o.planned ? el("span", { class: "muted" }, " planned") : ""),
      el("td", {}, o.level), el("td", {}, el("code", {}, o.device)), el("td", {}, o.feeder || "–"),
      el("td", {}, el("span", { class: "badge " + (stateBadge[o.state] || "") }, o.state)),
      el("td", { class: "nowrap" }, fmt.time(o.start, tz)), el("td", { class: "nowrap" }, o.end ? fmt.time(o.end, tz) : "–"),
      el("td", { class: "num customers" }, fmt.int(o.customers)), el("td", { class: "num" }, fmt.pct(o.confidence)),
      el("td", { class: "muted" }, `${o.lastGasps} gasps, ${o.pingsFailed} pings failed, ${o.pingsOK} answered`)))));
}

// fixed shows an index as the page does everywhere: 3 decimals.
const fixed = (v) => Number(v).toFixed(3);

function indexCards(t) {
  const card = (id, title, v, unit) => el("div", { class: "card", id, "data-value": String(v) },
    el("div", { class: "card-title" }, title), el("div", { class: "card-value" }, fixed(v) + (unit ? " " + unit : "")));
  return el("div", { class: "cards small", id: "rel-cards" },
    card("rel-saidi", "SAIDI", t.saidi, "min"), card("rel-saifi", "SAIFI", t.saifi), card("rel-caidi", "CAIDI", t.caidi, "min"), card("rel-maifi", "MAIFI", t.maifi),
    el("div", { class: "card", id: "rel-served" }, el("div", { class: "card-title" }, "Customers served"), el("div", { class: "card-value" }, fmt.int(t.served))));
}

function indexTable(id, key, rows) {
  return el("table", { id },
    el("thead", {}, el("tr", {}, [key === "feeder" ? "Feeder" : "Region", "Served", "SAIDI (min)", "SAIFI", "CAIDI (min)", "MAIFI", "Sustained", "Momentary", "MED excluded"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((x) => el("tr", { ["data-" + key]: x.name },
      el("td", {}, el("code", {}, x.name)), el("td", { class: "num" }, fmt.int(x.served)),
      el("td", { class: "num saidi" }, fixed(x.saidi)), el("td", { class: "num saifi" }, fixed(x.saifi)), el("td", { class: "num caidi" }, fixed(x.caidi)),
      el("td", { class: "num maifi" }, fixed(x.maifi)), el("td", { class: "num" }, fmt.int(x.sustained)), el("td", { class: "num" }, fmt.int(x.momentary)),
      el("td", { class: "num" }, fmt.int(x.medExcluded))))));
}

export async function outages(view, v, me, zone, outageID) {
  addStyle();
  const tz = zone || undefined;
  const err = el("p", { class: "error" });
  const treeBox = el("div", { id: "outage-tree" });
  const mapBox = el("div", { id: "outage-map" });
  const listBox = el("div", { id: "outages-open" });
  const detail = el("div", { id: "outage-detail" });
  const relBox = el("div", { id: "reliability" });
  const today = new Date();
  const fromIn = el("input", { type: "date", id: "rel-from", value: isoDate(new Date(today.getTime() - 30 * 864e5)) });
  const toIn = el("input", { type: "date", id: "rel-to", value: isoDate(new Date(today.getTime() + 864e5)) });
  const medIn = el("input", { type: "checkbox", id: "rel-exclude-med" });
  const relForm = el("form", { class: "filters", id: "rel-form", onsubmit: (e) => { e.preventDefault(); reliability().catch(showErr); } },
    el("label", {}, "From ", fromIn), " ", el("label", {}, "to ", toIn), " ", el("label", {}, medIn, " excluding major event days"), " ",
    el("button", { type: "submit" }, "Compute"));
  view.append(el("h1", {}, "Outages"),
    el("p", { class: "muted" }, "Outages found from last gasps, restorations, missed reads and pings, at the level of the network that explains them; the indices per IEEE 1366."),
    err, legend(),
    el("div", { class: "outages-cols" },
      el("section", { class: "panel" }, el("h2", {}, "Network"), treeBox),
      el("section", { class: "panel" }, el("h2", {}, "Map"), mapBox)),
    el("section", { class: "panel" }, el("h2", {}, "Open and recent outages"), listBox),
    detail,
    el("section", { class: "panel" }, el("h2", {}, "Reliability indices"), relForm, relBox));
  const showErr = (e) => { if (e.name !== "AbortError") err.textContent = e.message; };

  const period = () => {
    const from = new Date(fromIn.value + "T00:00:00").toISOString().replace(/\.\d+Z$/, "Z");
    const to = new Date(toIn.value + "T00:00:00").toISOString().replace(/\.\d+Z$/, "Z");
    const q = new URLSearchParams({ from, to });
    if (medIn.checked) q.set("excludeMED", "true");
    if (zone) q.set("tz", zone);
    return q;
  };
  const reliability = async () => {
    const q = period();
    const r = await v.get("/api/v1/reliability?" + q.toString());
    relBox.replaceChildren(
      el("p", { class: "muted", id: "rel-period", "data-from": r.from, "data-to": r.to }, `${fmt.time(r.from, tz)} – ${fmt.time(r.to, tz)} · `,
        el("a", { href: "/api/v1/reliability.csv?" + q.toString(), download: "" }, "CSV")),
      indexCards(r.total),
      el("p", { class: "muted", id: "rel-med" }, `Major event days: ${r.meds.length ? r.meds.join(", ") : "none"}` +
        (r.med.tMED ? ` (T_MED ${fixed(r.med.tMED)} min)` : "") + (r.excludeMED ? `, ${fmt.int(r.total.medExcluded)} interruptions left out` : "") + `. ${r.med.note.charAt(0).toUpperCase()}${r.med.note.slice(1)}.`),
      r.notes.length ? el("p", { class: "muted" }, r.notes.join("; ")) : "",
      r.unplaced.length ? el("p", { class: "error" }, "Outages of devices not in the topology, not counted: " + r.unplaced.join(", ")) : "",
      el("h3", {}, "Per feeder"), indexTable("rel-feeders", "feeder", r.feeders),
      el("h3", {}, "Per region"), indexTable("rel-regions", "region", r.regions));
  };
  const showOutage = async (id) => {
    const d = await v.get("/api/v1/outages/" + encodeURIComponent(id));
    detail.replaceChildren(el("section", { class: "panel", id: "outage-one", "data-outage": d.id },
      el("h2", {}, `Outage ${d.id} · `, el("span", { class: "badge " + (stateBadge[d.state] || "") }, d.state)),
      el("p", {}, `${d.level} ${d.device}`, d.path.length > 1 ? " under " + d.path.slice(1).map((n) => `${n.level} ${n.id}`).join(", ") : "",
        ` · from ${fmt.time(d.start, tz)}` + (d.end ? ` to ${fmt.time(d.end, tz)}` : ", still out") + ` · confidence ${fmt.pct(d.confidence)}`),
      el("p", {}, el("strong", { id: "outage-affected" }, fmt.int(d.affectedCustomers)), ` customer${d.affectedCustomers === 1 ? "" : "s"} on the topology of its start (version `, String(d.topologyVersion), ")",
        d.truncated ? ", the first listed:" : ":"),
      el("p", { class: "muted", id: "outage-services" }, d.services.join(", ") || "–")));
  };
  const load = async () => {
    const m = await v.get("/api/v1/outage-map");
    treeBox.replaceChildren(tree(m.devices));
    mapBox.replaceChildren(map(m.devices));
    listBox.replaceChildren(outagesTable(m.outages, tz));
  };
  v.every(15000, load, err);
  reliability().catch(showErr);
  if (outageID) showOutage(outageID).catch(showErr);
}
