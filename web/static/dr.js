// The demand-response page: programs with their enrolments, events with
// their status and the approval or cancellation they wait for, and one
// event's participants with their measurement and settlement.
import { api, el, fmt } from "./common.js";

// minor formats minor units of a currency (two decimals unless the
// currency has none), as the API's integers.
export function minor(amount, cur, digits = 2) {
  const sign = amount < 0 ? "-" : "";
  const a = Math.abs(amount);
  const frac = digits > 0 ? "." + String(a % 10 ** digits).padStart(digits, "0") : "";
  return `${sign}${cur || ""} ${Math.floor(a / 10 ** digits).toLocaleString("en-GB")}${frac}`.trim();
}

const kindName = { "load-limit": "load limit", price: "price", relay: "relay" };
const badge = { scheduled: "good", notified: "good", active: "warn", completed: "", cancelled: "bad", "awaiting-approval": "warn" };

function signalText(s) {
  if (s.thresholdW) return `limit ${fmt.watts(s.thresholdW)}`;
  if (s.relay) return `relay ${s.relay}`;
  if (s.price) return `price ${fmt.money(s.price, s.currency)}/kWh`;
  return "–";
}

export async function demandResponse(view, v, me, zone, eventID) {
  const err = el("p", { class: "error" });
  const notice = el("p", { class: "notice", id: "dr-notice" });
  const progBox = el("div", { id: "dr-programs" });
  const evBox = el("div", { id: "dr-events" });
  const detail = el("div", { id: "dr-event-detail" });
  view.append(el("h1", {}, "Demand response"),
    el("p", { class: "muted" }, "Programs, their events and each household's part: notice, its own start and end, opt-out, and what it saved against its baseline. Events go out as commands through the command gate."),
    err, notice,
    el("section", { class: "panel" }, el("h2", {}, "Programs"), progBox),
    el("section", { class: "panel" }, el("h2", {}, "Events"), evBox),
    detail);
  const tz = zone || undefined;
  const act = async (e, how) => {
    let body;
    if (how === "cancel") {
      const why = prompt(`Cancel event ${e.id}: why?`);
      if (why === null) return;
      body = { reason: why };
    } else if (!confirm(`Approve event ${e.id} of ${e.programId}, created by ${e.createdBy}?`)) return;
    try {
      const got = await api(`/api/v1/dr/events/${encodeURIComponent(e.id)}/${how}`, { method: "POST", body, signal: v.signal });
      notice.textContent = `Event ${got.id} ${how === "approve" ? "approved" : "cancelled"}: now ${got.status}.`;
      notice.className = "notice";
    } catch (x) {
      if (x.name === "AbortError") return;
      notice.textContent = x.message;
      notice.className = "error";
    }
    await load().catch((x) => { if (x.name !== "AbortError") err.textContent = x.message; });
  };
  const load = async () => {
    const from = new Date(Date.now() - 45 * 864e5).toISOString().replace(/\.\d+Z$/, "Z");
    const [progs, evs] = await Promise.all([v.get("/api/v1/dr/programs"), v.get(`/api/v1/dr/events?from=${from}&limit=200`)]);
    const counts = await Promise.all(progs.items.map((p) => v.get(`/api/v1/dr/programs/${encodeURIComponent(p.id)}/enrolments`).then((x) => x.items.length, () => "–")));
    progBox.replaceChildren(progs.items.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Program", "Kind", "Notice", "Spread", "Baseline", "Incentive", "Approval", "Enrolled"].map((h) => el("th", {}, h)))),
      el("tbody", {}, progs.items.map((p, i) => el("tr", { "data-program": p.id },
        el("td", {}, p.name, " ", el("code", {}, p.id)), el("td", {}, kindName[p.kind] || p.kind),
        el("td", { class: "num" }, p.noticeSeconds >= 7200 ? `${Math.round(p.noticeSeconds / 3600)} h` : `${Math.round(p.noticeSeconds / 60)} min`), el("td", { class: "num" }, `${p.randomizeSeconds} s`),
        el("td", {}, p.baseline + (p.adjust ? " adjusted" : "")), el("td", { class: "num" }, p.incentive ? `${minor(p.incentive, p.currency)}/kWh` : "–"),
        el("td", {}, p.approval ? "four eyes" : "–"), el("td", { class: "num" }, fmt.int(counts[i])))))) :
      el("p", { class: "muted" }, "No program yet."));
    const items = evs.items.slice().reverse();
    evBox.replaceChildren(items.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Event", "Program", "Start", "End", "Signal", "Status", "Source", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, items.map((e) => el("tr", { "data-event": e.id, class: "status-" + e.status },
        el("td", {}, el("a", { href: "#/dr/" + encodeURIComponent(e.id) }, e.id)), el("td", {}, e.programId),
        el("td", { class: "nowrap" }, fmt.time(e.start, tz)), el("td", { class: "nowrap" }, fmt.time(e.end, tz)),
        el("td", {}, signalText(e.signal)),
        el("td", { class: "status" }, el("span", { class: "badge " + (badge[e.status] || "") }, e.status), e.reason ? el("div", { class: "muted" }, e.reason) : ""),
        el("td", {}, e.source, e.createdBy ? el("div", { class: "muted" }, "by " + e.createdBy + (e.approvedBy ? ", approved by " + e.approvedBy : "")) : ""),
        el("td", { class: "nowrap" },
          e.status === "awaiting-approval" && me && (me.role === "admin" || me.role === "security-officer") ? el("button", { class: "danger btn-approve", onclick: () => act(e, "approve") }, "Approve") : "", " ",
          e.status !== "completed" && e.status !== "cancelled" ? el("button", { class: "btn-cancel", onclick: () => act(e, "cancel") }, "Cancel") : ""))))) :
      el("p", { class: "muted" }, "No event in the last 45 days or to come."));
    if (eventID) await showEvent(eventID);
  };
  const showEvent = async (id) => {
    const [e, parts, res] = await Promise.all([v.get(`/api/v1/dr/events/${encodeURIComponent(id)}`), v.get(`/api/v1/dr/events/${encodeURIComponent(id)}/participants`),
      v.get(`/api/v1/dr/events/${encodeURIComponent(id)}/results`).catch(() => null)]);
    const byUP = new Map(((res && res.results) || []).map((r) => [r.usagePointId, r]));
    const cur = res ? res.currency : "";
    const at = (t) => (t ? fmt.dmhm(t, tz) : "–");
    detail.replaceChildren(el("section", { class: "panel", id: "dr-participants" },
      el("h2", {}, `Event ${e.id} · ${e.status}`),
      res ? el("div", { class: "cards small" },
        el("div", { class: "card" }, el("div", { class: "card-title" }, "Participants"), el("div", { class: "card-value" }, fmt.int(res.participants))),
        el("div", { class: "card" }, el("div", { class: "card-title" }, "Opted out"), el("div", { class: "card-value" }, fmt.int(res.optedOut))),
        el("div", { class: "card" }, el("div", { class: "card-title" }, "Reduction"), el("div", { class: "card-value" }, fmt.kwh(res.reductionWh))),
        el("div", { class: "card" }, el("div", { class: "card-title" }, "Payments"), el("div", { class: "card-value" }, minor(res.payment, cur)))) : "",
      el("table", {},
        el("thead", {}, el("tr", {}, ["Usage point", "Meter", "Own start", "Own end", "Told", "Dispatched", "Opted out", "Result", "Baseline", "Actual", "Reduction", "Payment"].map((h) => el("th", {}, h)))),
        el("tbody", {}, parts.items.map((p) => {
          const r = byUP.get(p.usagePointId) || {};
          const s = Date.parse(e.start);
          return el("tr", { "data-usage-point": p.usagePointId },
            el("td", {}, p.usagePointId), el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(p.meterId) }, p.meterId)),
            el("td", { class: "nowrap" }, fmt.hms(s + p.startOffsetSeconds * 1e3, tz)), el("td", { class: "nowrap" }, fmt.hms(Date.parse(e.end) + p.endOffsetSeconds * 1e3, tz)),
            el("td", { class: "nowrap" }, at(p.notifiedAt)), el("td", { class: "nowrap" }, at(p.dispatchedAt)), el("td", { class: "nowrap" }, at(p.optedOutAt)),
            el("td", {}, Date.now() < s ? (p.optedOutAt ? "opted-out" : "to come") : r.status || "–"), el("td", { class: "num" }, r.status === "settled" ? fmt.kwh(r.baselineWh) : "–"),
            el("td", { class: "num" }, r.status === "settled" ? fmt.kwh(r.actualWh) : "–"), el("td", { class: "num" }, r.status === "settled" ? fmt.kwh(r.reductionWh) : "–"),
            el("td", { class: "num" }, r.status === "settled" ? minor(r.payment, cur) : "–"));
        })))));
  };
  v.every(10000, load, err);
}
