// The power quality page: the week's EN 50160 report per feeder and meter,
// the meters and feeders out of bounds highlighted, and the voltage along
// a chosen feeder at an instant, by distance from the substation.
import { el, fmt, chartSize, isoDate } from "./common.js";

// lastMonday is the date of the Monday of the last whole week.
function lastMonday() {
  const d = new Date();
  d.setDate(d.getDate() - ((d.getDay() + 6) % 7) - 7);
  return isoDate(d);
}

const volts = (v) => (v === undefined || v === null || v === 0 ? "–" : v.toFixed(1) + " V");
const pct = (v) => (v ? v.toFixed(0) + " %" : "–");
const secs = (s) => (!s ? "–" : s >= 60 ? (s / 60).toFixed(1) + " min" : s.toFixed(s < 10 ? 1 : 0) + " s");

export async function powerQuality(view, v, me, zone, feederArg) {
  const tz = zone || undefined;
  const err = el("p", { class: "error" });
  const week = el("input", { type: "date", id: "pq-week", value: lastMonday() });
  const feeder = el("input", { id: "pq-feeder", placeholder: "all feeders", value: feederArg || "", size: 12 });
  const csv = el("a", { id: "pq-csv", href: "#" }, "CSV");
  const summary = el("p", { class: "muted", id: "pq-summary" });
  const feedersBox = el("div", { id: "pq-feeders" });
  const metersBox = el("div", { id: "pq-meters" });
  const along = el("select", { id: "pq-along" });
  const at = el("input", { type: "datetime-local", id: "pq-at" });
  const chartBox = el("div", { id: "pq-chart" });
  const readout = el("p", { class: "readout" });
  view.append(el("h1", {}, "Power quality"),
    el("p", { class: "muted" }, "EN 50160 over a week: at least 95 % of each phase's 10-minute mean voltages within ±10 % of nominal, and none outside −15 %/+10 %. Periods holding a sag, swell or interruption are counted as events, not judged."),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load().catch(show); } },
      el("label", {}, "Week from ", week), el("label", {}, "Feeder ", feeder), el("button", { type: "submit" }, "Show"), " ", csv),
    err, summary,
    el("section", { class: "panel" }, el("h2", {}, "Feeders"), feedersBox),
    el("section", { class: "panel" }, el("h2", {}, "Meters"), metersBox),
    el("section", { class: "panel" }, el("h2", {}, "Voltage along a feeder"),
      el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); chart().catch(show); } },
        el("label", {}, "Feeder ", along), el("label", {}, "At ", at), el("button", { type: "submit" }, "Plot")),
      chartBox, readout));
  function show(e) {
    if (e.name !== "AbortError") err.textContent = e.message;
  }
  const query = () => `week=${encodeURIComponent(week.value)}${feeder.value ? "&feeder=" + encodeURIComponent(feeder.value) : ""}${tz ? "&tz=" + encodeURIComponent(tz) : ""}`;

  let shownWeek = "";
  let showAll = false;
  const compliantShown = 25;
  async function load() {
    err.textContent = "";
    csv.href = `/api/v1/pq/en50160.csv?${query()}`;
    const r = await v.get(`/api/v1/pq/en50160?${query()}`);
    const out = r.meters.filter((m) => !m.compliant).length;
    summary.textContent = `${fmt.int(r.meters.length)} meters with a voltage profile, ${fmt.int(out)} out of bounds; nominal ${r.limits.nominalV} V.`;
    feedersBox.replaceChildren(r.feeders.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Feeder", "Meters", "Out of bounds", "Sags", "Swells", "Interruptions", "Worst sag", "Worst swell", "Longest"].map((h) => el("th", {}, h)))),
      el("tbody", {}, r.feeders.map((f) => el("tr", { class: f.flagged ? "flagged" : "" },
        el("td", {}, el("a", { href: `#/pq/${encodeURIComponent(f.feeder)}` }, f.feeder)), el("td", { class: "num" }, fmt.int(f.meters)),
        el("td", { class: "num" }, f.outOfBounds ? el("span", { class: "badge bad" }, fmt.int(f.outOfBounds)) : "0"),
        el("td", { class: "num" }, fmt.int(f.sags)), el("td", { class: "num" }, fmt.int(f.swells)), el("td", { class: "num" }, fmt.int(f.interruptions)),
        el("td", { class: "num" }, pct(f.worstSagPct)), el("td", { class: "num" }, pct(f.worstSwellPct)), el("td", { class: "num" }, secs(f.longestS))))))
      : el("p", { class: "muted" }, "No meter is placed on a feeder: load the grid's topology."));
    // Out of bounds first, then by meter; a fleet's compliant meters are
    // many and say little, so only the first few are listed until asked.
    const all = [...r.meters].sort((a, b) => (a.compliant - b.compliant) || a.meter.localeCompare(b.meter));
    const cut = out + compliantShown;
    const ms = showAll || all.length <= cut ? all : all.slice(0, cut);
    const more = ms.length < all.length
      ? el("p", {}, el("button", { type: "button", id: "pq-all", onclick: () => { showAll = true; load().catch(show); } }, `Show all ${fmt.int(all.length)} meters`))
      : "";
    metersBox.replaceChildren(ms.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Meter", "Feeder", "Transformer", "Within ±10 % (L1/L2/L3)", "Lowest mean", "Highest mean", "Min", "Max", "Sags", "Swells", "Interr.", "Verdict"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ms.map((m) => {
        const lo = Math.min(...m.phases.map((p) => p.meanLowV || Infinity));
        const hi = Math.max(...m.phases.map((p) => p.meanHighV || 0));
        return el("tr", { class: m.compliant ? "" : "flagged", "data-meter": m.meter },
          el("td", {}, el("a", { href: `#/meter/${encodeURIComponent(m.meter)}` }, m.meter)), el("td", {}, m.feeder || "–"), el("td", {}, m.transformer || "–"),
          el("td", { class: "num" }, m.phases.map((p) => fmt.pct(p.share)).join(" / ")),
          el("td", { class: "num" }, volts(isFinite(lo) ? lo : 0)), el("td", { class: "num" }, volts(hi)),
          el("td", { class: "num" }, volts(Math.min(...m.phases.map((p) => p.minV)))), el("td", { class: "num" }, volts(Math.max(...m.phases.map((p) => p.maxV)))),
          el("td", { class: "num" }, fmt.int(m.sags)), el("td", { class: "num" }, fmt.int(m.swells)), el("td", { class: "num" }, fmt.int(m.interruptions)),
          el("td", { title: (m.reasons || []).join("\n") }, m.compliant ? el("span", { class: "badge good" }, "within") : el("span", { class: "badge bad" }, "out of bounds")));
      })))
      : el("p", { class: "muted" }, "No voltage profile stored for this week."), more);
    const names = r.feeders.map((f) => f.feeder);
    const keep = feederArg || along.value;
    along.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === keep }, n)));
    // A new week moves the instant into it: its first evening peak.
    if (!at.value || week.value !== shownWeek) at.value = `${week.value}T18:00`;
    shownWeek = week.value;
    if (names.length) await chart();
  }

  async function chart() {
    if (!along.value) return;
    const t = new Date(at.value); // the browser's zone: the page's own
    const fv = await v.get(`/api/v1/pq/feeders/${encodeURIComponent(along.value)}/voltage?at=${encodeURIComponent(t.toISOString().replace(/\.\d+Z$/, "Z"))}`);
    if (!fv.points.length) {
      chartBox.replaceChildren(el("p", { class: "muted" }, `No voltage stored for feeder ${fv.feeder} at that time.`));
      return;
    }
    chartBox.replaceChildren();
    const xs = fv.points.map((p) => p.distanceM);
    const series = [0, 1, 2].map((i) => fv.points.map((p) => p.voltageV[i] || null));
    const lo = fv.points.map(() => fv.nominalV * 0.9);
    const hi = fv.points.map(() => fv.nominalV * 1.1);
    const dot = (stroke) => ({ stroke, paths: () => null, points: { show: true, size: 6, fill: stroke, stroke } });
    v.chart(new uPlot({
      ...chartSize(chartBox, 280),
      legend: { show: false },
      scales: { x: { time: false } },
      series: [{}, { label: "L1", ...dot("#2563eb") }, { label: "L2", ...dot("#f59e0b") }, { label: "L3", ...dot("#7c3aed") },
        { label: "−10 %", stroke: "#dc2626", dash: [6, 4], width: 1 }, { label: "+10 %", stroke: "#dc2626", dash: [6, 4], width: 1 }],
      axes: [{ label: "distance from the substation (m)" }, { label: "V" }],
      hooks: { setCursor: [(u) => {
        const i = u.cursor.idx;
        const p = fv.points[i];
        readout.textContent = i === null || i === undefined || !p ? "" :
          `${p.usagePoint} (meter ${p.meter}, ${p.transformer}), ${fmt.int(p.distanceM)} m: ${p.voltageV.filter(Boolean).map((x) => x.toFixed(1) + " V").join(" / ")} in the 10 minutes to ${fmt.hm(p.end, tz)}`;
      }] },
    }, [xs, ...series, lo, hi], chartBox));
    if (fv.missing) chartBox.append(el("p", { class: "muted" }, `${fv.missing} services without a voltage for that period.`));
  }

  await load();
}
