// The console's collector view: per radio collector (network segment), a
// collection day's meters, read success, session times and failures by
// cause, worst first, so that a failing collector stands out.
import { el, fmt } from "./common.js";

// collectors renders the page into view for the day in the hash (default:
// yesterday, as the head-end counts it); v is the console's view.
export async function collectors(view, v, day) {
  const err = el("p", { class: "error", id: "collectors-error" });
  const table = el("div", { id: "collectors-table" });
  const pick = el("input", { type: "date", id: "collectors-day", value: day || "",
    onchange: (ev) => { location.hash = "#/collectors/" + ev.target.value; } });
  view.append(el("h1", {}, "Collectors"),
    el("p", { class: "muted" }, "Each collector's collection day: read success below 99.5 % is shown in red. Session times are those this head-end ran since it started. Refreshed every ten seconds."),
    el("p", {}, el("label", {}, "Collection day ", pick)), err,
    el("section", { class: "panel wide" }, table));

  async function refresh() {
    const q = day ? "?day=" + encodeURIComponent(day) : "";
    const d = await v.get("/api/v1/collectors" + q);
    if (!pick.value) pick.value = d.day;
    if (!d.collectors.length) {
      table.replaceChildren(el("p", { class: "muted", id: "collectors-empty" }, `No collection results on ${d.day}.`));
      return;
    }
    const ms = (x, n) => (n ? Number(x).toFixed(0) + " ms" : "–");
    const causes = (f) => Object.entries(f).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${fmt.int(n)}`).join(", ");
    table.replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, ["Collector", "Meters", "Read", "Success", "Median session", "p95 session", "Capacity", "Failures by cause"].map((h) => el("th", {}, h)))),
      el("tbody", {}, d.collectors.map((c) => el("tr", { "data-collector": c.collector, class: c.healthy ? "" : "sev-critical" },
        el("td", {}, c.collector),
        el("td", { class: "num" }, fmt.int(c.meters)), el("td", { class: "num" }, fmt.int(c.ok)),
        el("td", { class: "num" }, el("span", { class: "badge " + (c.healthy ? "good" : "bad") }, fmt.pct(c.successRate))),
        el("td", { class: "num" }, ms(c.medianMs, c.sessions)), el("td", { class: "num" }, ms(c.p95Ms, c.sessions)),
        el("td", { class: "num" }, c.capacity ? fmt.int(c.capacity) : "–"),
        el("td", { class: "reason" }, causes(c.failed)))))));
  }
  v.every(10000, refresh, err);
}
