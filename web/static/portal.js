// The consumer portal, an in-home display in a browser: use now, today
// against a typical day, the price in force, the month so far, the bill
// of the cycle so far and its forecast, demand-response events to take
// part in or opt out of, and the household's own data to download.
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
  // The money and the events are shown when the server has them; the
  // rest of the page does not wait on them failing.
  const optional = (p) => p.catch((e) => ({ unavailable: e.message }));
  const [s, consents, bill, drEvents] = await Promise.all([api(`${upPath}/summary`), api(`${upPath}/consents`),
    optional(api(`${upPath}/bill-summary`)), optional(api(`${upPath}/dr-events?limit=20`))]);
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
    money(bill, tz),
    demandResponse(upPath, drEvents, tz, () => render(box, up)),
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

// minor formats an amount in minor units of a currency with the number
// of decimals its minor unit has: the API's integers, never floats summed.
function minor(amount, cur, digits) {
  const d = digits ?? 2;
  const sign = amount < 0 ? "-" : "";
  const a = Math.abs(amount);
  const whole = Math.floor(a / 10 ** d);
  const frac = d > 0 ? "." + String(a % 10 ** d).padStart(d, "0") : "";
  return `${sign}${cur} ${whole.toLocaleString("en-GB")}${frac}`;
}

// money is the bill of the cycle so far, its forecast to the cycle's end,
// and what the household saves against a flat tariff and in events.
function money(b, tz) {
  if (!b || b.unavailable) return el("section", { class: "panel", id: "money" }, el("h2", {}, "Your bill"), el("p", { class: "muted" }, b ? b.unavailable : "No bill yet."));
  const m = (v) => minor(v, b.currency, b.minorUnitDigits);
  const last = (d) => { const t = new Date(Date.parse(d + "T12:00:00Z") - 864e5); return t.toISOString().slice(0, 10); };
  const so = b.soFar;
  const fc = b.forecast;
  const status = (x) => (x.status === "ready" ? "" : el("span", { class: "badge warn", title: (x.flags || []).join("; ") }, x.status));
  const cards = [
    el("div", { class: "card", id: "bill-so-far" }, el("div", { class: "card-title" }, "Bill so far"),
      el("div", { class: "card-value", id: "bill-so-far-amount", "data-minor": so ? so.total : 0 }, so ? m(so.total) : "–"),
      el("div", { class: "card-sub" }, so ? [`${fmt.kwh(so.energyWh)} from ${b.period.from} to ${last(b.asOf)} `, status(so)] : "the cycle began today")),
    el("div", { class: "card", id: "bill-forecast" }, el("div", { class: "card-title" }, "Forecast for the cycle"),
      el("div", { class: "card-value", id: "bill-forecast-amount", "data-minor": fc ? fc.total : "" }, fc ? m(fc.total) : "–"),
      el("div", { class: "card-sub" }, fc ? `forecast to ${last(b.period.to)}: ${fc.daysForecast} days at your usual use for each weekday` : "not enough history to forecast yet")),
  ];
  if (b.flat) {
    const sv = fc ? b.flat.forecastSavings : b.flat.savings;
    cards.push(el("div", { class: "card", id: "bill-flat" }, el("div", { class: "card-title" }, "Against a flat price"),
      el("div", { class: "card-value", "data-minor": sv }, sv >= 0 ? m(sv) : m(-sv)),
      el("div", { class: "card-sub" }, `${sv >= 0 ? "saved" : "more"} ${fc ? "over the cycle (forecast)" : "so far"} than at one flat price of ${fmt.money(b.flat.prices[b.flat.prices.length - 1], b.currency)}/kWh`)));
  }
  if (b.dr) {
    cards.push(el("div", { class: "card", id: "bill-dr" }, el("div", { class: "card-title" }, "Demand response"),
      el("div", { class: "card-value", "data-minor": b.dr.payment }, m(b.dr.payment)),
      el("div", { class: "card-sub" }, b.dr.events.length ? `earned for ${fmt.kwh(b.dr.reductionWh)} less than your baseline in ${b.dr.events.length} event${b.dr.events.length === 1 ? "" : "s"}` : "no event yet")));
  }
  const lines = (x) => el("table", { class: "bill-lines" },
    el("thead", {}, el("tr", {}, el("th", {}, "Charge"), el("th", { class: "num" }, "Quantity"), el("th", { class: "num" }, "Amount"))),
    el("tbody", {}, ...x.lines.map((l) => el("tr", { "data-code": l.code }, el("td", {}, l.description),
      el("td", { class: "num" }, l.unit === "Wh" ? fmt.kwh(l.quantity) : `${fmt.int(l.quantity)} ${l.unit}`), el("td", { class: "num" }, m(l.amount))))),
    el("tfoot", {}, el("tr", {}, el("th", {}, "Total"), el("th", {}), el("th", { class: "num" }, m(x.total)))));
  const events = b.dr && b.dr.events.length ? el("table", { class: "dr-results" },
    el("thead", {}, el("tr", {}, el("th", {}, "Event"), el("th", {}, "When"), el("th", { class: "num" }, "Baseline"), el("th", { class: "num" }, "Used"), el("th", { class: "num" }, "Saved"), el("th", { class: "num" }, "Paid"))),
    el("tbody", {}, ...b.dr.events.map((e) => el("tr", { "data-event": e.eventId }, el("td", {}, e.programName || e.programId), el("td", { class: "nowrap" }, fmt.dmhm(e.start, tz), "–", fmt.hm(e.end, tz)),
      ...(e.status === "settled" ? [el("td", { class: "num" }, fmt.kwh(e.baselineWh)), el("td", { class: "num" }, fmt.kwh(e.actualWh)), el("td", { class: "num" }, fmt.kwh(e.reductionWh)), el("td", { class: "num" }, minor(e.payment, e.currency || b.currency, b.minorUnitDigits))]
        : [el("td", { colspan: 4, class: "muted" }, e.status === "opted-out" ? "you opted out" : e.status === "no-data" ? "not measured yet" : "no baseline yet")]))))) : "";
  return el("section", { class: "panel", id: "money" }, el("h2", {}, `Your bill · ${b.period.from} to ${last(b.period.to)}`),
    el("div", { class: "hero" }, ...cards),
    el("p", { class: "muted" }, `Tariff ${b.tariffName || b.tariff}. The forecast is not a bill: ${fc ? fc.basis : "it needs a few days of readings"}.` + (b.flat ? ` Flat price: ${b.flat.basis}.` : "")),
    so ? el("details", {}, el("summary", {}, "Charges so far"), lines(so)) : "",
    fc ? el("details", {}, el("summary", {}, "Forecast charges for the cycle"), lines(fc)) : "",
    events);
}

// demandResponse is the household's coming and current events, each
// with its notice and a button to opt out; refresh re-renders the page.
function demandResponse(upPath, evs, tz, refresh) {
  if (!evs || evs.unavailable) return "";
  const now = Date.now();
  const open = evs.items.filter((p) => p.event && Date.parse(p.event.end) > now && p.event.status !== "cancelled" && p.event.status !== "completed");
  const kind = (e) => (e.signal.thresholdW ? `your supply limited to ${fmt.watts(e.signal.thresholdW)}` : e.signal.relay ? "deferrable appliances switched off" : e.signal.price ? `a price of ${fmt.money(e.signal.price, e.signal.currency)}/kWh` : "");
  const row = (p) => {
    const e = p.event;
    const st = el("span", { class: "dr-state" });
    const btn = el("button", { class: "opt-out", id: "opt-out-" + e.id }, "Opt out");
    if (p.optedOutAt) {
      st.replaceChildren(el("span", { class: "badge warn" }, "opted out"), ` at ${fmt.dmhm(p.optedOutAt, tz)}`);
      btn.hidden = true;
    } else {
      st.replaceChildren(el("span", { class: "badge good" }, Date.parse(e.start) <= now ? "running" : "taking part"));
    }
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await api(`${upPath}/dr-events/${encodeURIComponent(e.id)}/opt-out`, { method: "POST" });
        await refresh();
      } catch (err) {
        st.replaceChildren(el("span", { class: "error" }, err.message));
        btn.disabled = false;
      }
    });
    return el("li", { class: "dr-event", "data-event": e.id, "data-opted-out": p.optedOutAt ? "true" : "false" },
      el("strong", {}, `${fmt.dmhm(e.start, tz)} – ${fmt.hm(e.end, tz)}`), `: ${kind(e)}. `,
      el("span", { class: "muted" }, `Told ${fmt.dmhm(p.notifiedAt, tz)}. `), st, " ", btn);
  };
  return el("section", { class: "panel", id: "dr-events" }, el("h2", {}, "Demand response"),
    open.length ? el("ul", { class: "dr-list" }, ...open.map(row)) : el("p", { class: "muted" }, "No event coming."),
    el("p", { class: "muted" }, "In an event your home uses less for a while, and you are paid for what it saves against your usual use. You can opt out of any event until it ends."));
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
