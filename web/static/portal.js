// The consumer portal, an in-home display in a browser: use now, today
// against a typical day, the price in force, the month so far, and the
// household's own data to download.
import { api, whoami, showLogin, logout, setUnauthenticated, el, fmt, dateIn, chartSize, timeChart } from "./common.js";

const root = document.getElementById("app");
let plot = null;

async function start() {
  setUnauthenticated(() => location.reload());
  let me = await whoami();
  if (!me) me = await showLogin(root, "My energy");
  root.className = "";
  const ups = me.usagePoints || [];
  const pick = el("select", { id: "usage-point" }, ups.map((u) => el("option", { value: u }, u)));
  root.replaceChildren(
    el("header", { class: "top" }, el("span", { class: "brand" }, "My energy"), el("nav", {}),
      el("span", { class: "who" }, me.user, " ", el("button", { class: "link", onclick: logout }, "Sign out"))),
    el("main", { id: "view" }));
  const view = document.getElementById("view");
  if (ups.length === 0) {
    view.append(el("p", { class: "muted" }, "No usage point is linked to this account yet. Ask your utility to link your meter."));
    return;
  }
  if (ups.length > 1) view.append(el("p", {}, "Address ", pick));
  const box = el("div", {});
  view.append(box);
  const show = () => render(box, pick.value || ups[0]).catch((e) => box.replaceChildren(el("p", { class: "error" }, e.message)));
  pick.addEventListener("change", show);
  await show();
  // Near real time: the meter's quarter hours arrive as they are read.
  setInterval(show, 30000);
}

async function render(box, up) {
  const upPath = `/api/v1/usage-points/${encodeURIComponent(up)}`;
  const [s, consents] = await Promise.all([api(`${upPath}/summary`), api(`${upPath}/consents`)]);
  const cur = s.tou.currency;
  // Times are the household's own, whatever the browser's zone.
  const tz = s.timeZone || undefined;
  const today = dateIn(Date.now(), tz);
  const monthStart = today.slice(0, 8) + "01";
  const dl = (fmtName, label) => el("a", { href: `/api/v1/usage-points/${encodeURIComponent(up)}/export?format=${fmtName}&from=${monthStart}&to=${today}`, download: "", id: "download-" + fmtName }, label);
  const chartBox = el("div", { id: "today-chart" });
  const readout = el("p", { class: "readout" });
  const cmp = s.typicalSoFar > 0 ? s.todaySoFar / s.typicalSoFar : NaN;
  const cmpText = isNaN(cmp) ? "no typical day yet" : cmp > 1.05 ? `${Math.round(100 * (cmp - 1))} % more than a typical ${s.weekday}` : cmp < 0.95 ? `${Math.round(100 * (1 - cmp))} % less than a typical ${s.weekday}` : `about a typical ${s.weekday}`;
  box.replaceChildren(
    el("div", { class: "hero" },
      el("div", { class: "card", id: "now" }, el("div", { class: "card-title" }, "Using now"),
        el("div", { class: "card-value" }, s.now ? fmt.watts(s.now.watts) : "–"),
        el("div", { class: "card-sub" }, s.now ? `average over the quarter hour to ${fmt.hm(s.now.end, tz)}` : "no reading today yet")),
      el("div", { class: "card", id: "today" }, el("div", { class: "card-title" }, "Today so far"),
        el("div", { class: "card-value" }, fmt.kwh(s.todaySoFar)), el("div", { class: "card-sub" }, cmpText)),
      el("div", { class: "card", id: "price" }, el("div", { class: "card-title" }, "Price now"),
        el("div", { class: "card-value" }, fmt.money(s.tou.price, cur), el("span", { class: "card-sub" }, " /kWh")),
        el("div", { class: "card-sub" }, el("span", { class: "tou " + s.tou.period }, s.tou.period), ` until ${fmt.hm(s.tou.until, tz)} · ${s.tou.tariff}`)),
      el("div", { class: "card", id: "month" }, el("div", { class: "card-title" }, "This month"),
        el("div", { class: "card-value" }, fmt.kwh(s.monthToDate.wh)),
        el("div", { class: "card-sub" }, `${fmt.money(s.monthToDate.cost, cur)} so far, ${s.monthToDate.days} days`))),
    el("section", { class: "panel" }, el("h2", {}, "Today against a typical " + s.weekday), chartBox,
      el("p", { class: "legend" }, el("span", { class: "sw today" }), "today ", el("span", { class: "sw typical" }), s.typicalDays === 1 ? `typical ${s.weekday} (last ${s.weekday})` : `typical ${s.weekday} (average of the last ${s.typicalDays} ${s.weekday}s)`), readout),
    volumes(s.volumes || [], tz),
    el("section", { class: "panel" }, el("h2", {}, "Your data"),
      el("p", { class: "muted" }, "Download this month's quarter hours: Green Button (ESPI XML) for apps that read it, or CSV for a spreadsheet."),
      el("div", { class: "downloads" }, dl("espi", "Green Button XML"), dl("csv", "CSV"))),
    homeNetwork(upPath, consents.items.some((c) => c.purpose === "home-network")));
  const t0 = Date.parse(s.today.start) / 1000;
  const xs = s.typical.map((_, i) => t0 + (i + 1) * s.today.intervalSeconds);
  const todayW = s.today.values.map((v) => (v === null ? null : v * 3600 / s.today.intervalSeconds));
  const typW = s.typical.map((v) => (v === null ? null : v * 3600 / s.today.intervalSeconds));
  if (plot) plot.destroy();
  const w = (v) => (v === null || v === undefined ? "–" : fmt.watts(v));
  const base = timeChart(tz, readout, (u, i) => `quarter hour to ${fmt.hm(xs[i] * 1e3, tz)}: today ${w(todayW[i])}, typical ${w(typW[i])}`);
  plot = new uPlot({
    ...chartSize(chartBox, 280), ...base,
    series: [{}, { label: "typical W", stroke: "#9ca3af", fill: "rgba(156,163,175,0.18)", width: 1.5 }, { label: "today W", stroke: "#2563eb", width: 2 }],
    axes: [base.axes[0], { label: "W" }],
  }, [xs, typW, todayW], chartBox);
}

// homeNetwork is the household's consent that amigo publishes its
// readings to the MQTT broker of its home (Home Assistant and the like).
function homeNetwork(upPath, granted) {
  const note = el("span", { class: "muted", id: "home-network-state" }, granted ? "on" : "off");
  const box = el("input", { type: "checkbox", id: "home-network" });
  box.checked = granted;
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      await api(`${upPath}/consents/home-network`, { method: box.checked ? "PUT" : "DELETE" });
      note.textContent = box.checked ? "on" : "off";
    } catch (e) {
      box.checked = !box.checked;
      note.textContent = e.message;
    } finally {
      box.disabled = false;
    }
  });
  return el("section", { class: "panel" }, el("h2", {}, "Home network"),
    el("p", { class: "muted" }, "Publish my near-real-time readings to my home network (MQTT, for Home Assistant). You can stop it here at any time; it stops at once."),
    el("label", {}, box, " Publish to my home network ", note));
}

// volumes is the household's gas and water: each meter's m³ of its last
// days and its latest index. Nothing when it has neither.
function volumes(vs, tz) {
  if (vs.length === 0) return "";
  const m3 = (v) => v.toLocaleString("en-GB", { minimumFractionDigits: 3, maximumFractionDigits: 3 }) + " m³";
  const name = { gas: "Gas", water: "Water" };
  const today = dateIn(Date.now(), tz);
  return el("section", { class: "panel", id: "volumes" }, el("h2", {}, "Gas and water"),
    ...vs.map((v) => el("div", { class: "volume", id: "volume-" + v.kind, "data-meter": v.meter },
      el("h3", {}, `${name[v.kind] || v.kind} · meter ${v.meter}`),
      el("p", { class: "card-sub last" }, v.last ? `Meter reading ${m3(v.last.m3)} at ${fmt.hm(v.last.at, tz)} on ${dateIn(Date.parse(v.last.at), tz)}` : "No meter reading yet"),
      v.days.length === 0 ? el("p", { class: "muted" }, "No day read yet") :
        el("table", { class: "days" },
          el("thead", {}, el("tr", {}, el("th", {}, "Day"), el("th", {}, "Used"), el("th", {}, ""))),
          el("tbody", {}, ...v.days.map((d) => el("tr", { "data-date": d.date },
            el("td", {}, d.date), el("td", { class: "num" }, m3(d.m3)),
            el("td", { class: "muted" }, d.complete ? (d.source === "meter" ? "" : d.source) : d.date === today ? "so far" : "hours missing"))))))));
}

start().catch((e) => root.replaceChildren(el("p", { class: "error" }, e.message)));
