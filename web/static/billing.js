// The billing page: the tariffs bills were priced by with their versions,
// bill runs with their progress and CIS export links, and one account's
// bills with their lines and determinants.
import { api, el, fmt } from "./common.js";
import { minor } from "./dr.js";

const statusBadge = { ready: "good", flagged: "warn", held: "bad", finished: "good", running: "warn", failed: "bad" };

function exportLinks(q) {
  const qs = new URLSearchParams(q).toString();
  return el("span", { class: "exports" },
    el("a", { href: `/api/v1/bill-export?format=lines&${qs}`, download: "" }, "lines CSV"), " · ",
    el("a", { href: `/api/v1/bill-export?format=determinants&${qs}`, download: "" }, "determinants CSV"), " · ",
    el("a", { href: `/api/v1/bill-export?format=json&${qs}`, download: "" }, "JSON"));
}

export async function billing(view, v, me, zone, arg) {
  const tz = zone || undefined;
  const err = el("p", { class: "error" });
  const tariffBox = el("div", { id: "billing-tariffs" });
  const runBox = el("div", { id: "billing-runs" });
  const billBox = el("div", { id: "billing-bills" });
  const detail = el("div", { id: "billing-bill" });
  const acctIn = el("input", { id: "billing-account", placeholder: "account id", size: 18 });
  view.append(el("h1", {}, "Billing"),
    el("p", { class: "muted" }, "Bills are made from the latest validated days under the tariff versions in force; amounts are exact minor units, each line rounded as it says."),
    err,
    el("section", { class: "panel" }, el("h2", {}, "Tariffs"), tariffBox),
    el("section", { class: "panel" }, el("h2", {}, "Bill runs"), runBox),
    el("section", { class: "panel" }, el("h2", {}, "Bills of an account"),
      el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = "#/billing/" + encodeURIComponent(acctIn.value.trim()); } },
        el("label", {}, "Account ", acctIn), el("button", { type: "submit" }, "Show")), billBox, detail));

  // The tariffs are those the usage points of the first accounts are on,
  // and those their bills were priced by.
  const tariffs = async () => {
    const accts = await v.get("/api/v1/accounts?limit=20");
    const ids = new Set();
    const assigns = await Promise.all(accts.items.map((a) => v.get(`/api/v1/usage-points/${encodeURIComponent(a.usagePoint)}/tariff-assignments`).catch(() => ({ items: [] }))));
    assigns.forEach((x) => (x.items || []).forEach((t) => ids.add(t.tariffId)));
    const bills = await v.get("/api/v1/bills?limit=50").catch(() => ({ items: [] }));
    bills.items.forEach((b) => (b.lines || []).forEach((l) => l.tariff && ids.add(l.tariff.split("@")[0])));
    const versions = await Promise.all([...ids].sort().map((id) => v.get(`/api/v1/tariffs/${encodeURIComponent(id)}/versions`).then((x) => x.items, () => [])));
    const rows = versions.flat();
    tariffBox.replaceChildren(rows.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Tariff", "Version", "In force from", "Name", "Currency", "Form", "Filed"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((t) => el("tr", { "data-tariff": t.id, "data-version": t.version },
        el("td", {}, el("code", {}, t.id)), el("td", { class: "num" }, t.version), el("td", {}, t.effectiveFrom),
        el("td", {}, (t.tariff && t.tariff.name) || "–"), el("td", {}, (t.tariff && t.tariff.currency) || "–"),
        el("td", {}, t.tariff ? [t.tariff.seasons ? "seasons" : "TOU", t.tariff.tiers ? "tiers" : "", t.tariff.demand ? "demand" : "", t.tariff.net_metering ? "net metering" : "", t.tariff.critical_peak ? "critical peak" : "", t.tariff.dynamic ? "dynamic" : ""].filter(Boolean).join(", ") : "–"),
        el("td", { class: "nowrap" }, fmt.time(t.createdAt, tz)))))) :
      el("p", { class: "muted" }, "No tariff filed yet: usage points are priced by the default tariff."));
    if (!acctIn.value && accts.items.length) acctIn.value = arg || accts.items[0].id;
  };
  const runs = async () => {
    const rs = await v.get("/api/v1/bill-runs?limit=20");
    runBox.replaceChildren(rs.items.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Run", "Group", "Period", "Status", "Billed", "Skipped", "Held", "Flagged", "Failed", "Started", "Finished", "CIS export"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rs.items.map((r) => el("tr", { "data-run": r.id, class: "status-" + r.status },
        el("td", { class: "num" }, r.id), el("td", {}, r.group), el("td", { class: "nowrap" }, `${r.from} – ${r.to}`),
        el("td", {}, el("span", { class: "badge " + (statusBadge[r.status] || "") }, r.status), r.error ? el("div", { class: "error" }, r.error) : ""),
        ...["billed", "skipped", "held", "flagged", "failed"].map((k) => el("td", { class: "num" }, fmt.int(r[k]))),
        el("td", { class: "nowrap" }, fmt.time(r.started, tz)), el("td", { class: "nowrap" }, r.finished ? fmt.time(r.finished, tz) : "–"),
        el("td", { class: "nowrap" }, exportLinks({ run: r.id, latest: "true" })))))) :
      el("p", { class: "muted" }, "No bill run yet."));
  };
  const showBill = async (id) => {
    const b = await v.get(`/api/v1/bills/${encodeURIComponent(id)}`);
    const m = (x) => minor(x, b.currency);
    detail.replaceChildren(el("div", { class: "bill", "data-bill": b.id },
      el("h3", {}, `Bill ${b.id} · account ${b.account} · ${b.period.from} – ${b.period.to} · `, el("span", { class: "badge " + (statusBadge[b.status] || "") }, b.status)),
      b.reason ? el("p", { class: "muted" }, "Rebilled: " + b.reason) : "",
      (b.flags || []).length ? el("p", { class: "muted" }, b.flags.join("; ")) : "",
      el("table", { class: "bill-lines" },
        el("thead", {}, el("tr", {}, ["Code", "Charge", "Quantity", "Rate", "Amount", "Rounding", "Tariff"].map((h) => el("th", {}, h)))),
        el("tbody", {}, b.lines.map((l) => el("tr", { "data-code": l.code }, el("td", {}, el("code", {}, l.code)), el("td", {}, l.description),
          el("td", { class: "num" }, `${fmt.int(l.quantity)} ${l.unit}`), el("td", { class: "num" }, `${fmt.int(l.rate)} ${l.rate_unit}`),
          el("td", { class: "num" }, m(l.amount)), el("td", { class: "muted" }, l.rounding), el("td", {}, l.tariff || "")))),
        el("tfoot", {}, el("tr", {}, el("th", {}, "Total"), el("th", {}), el("th", {}), el("th", {}), el("th", { class: "num" }, m(b.total)), el("th", {}), el("th", {})))),
      el("h3", {}, "Determinants"),
      el("table", { class: "bill-determinants" },
        el("thead", {}, el("tr", {}, ["Name", "Kind", "Channel", "Bucket", "Tier", "Value", "Intervals", "Estimated", "Edited", "Missing"].map((h) => el("th", {}, h)))),
        el("tbody", {}, (b.determinants || []).map((d) => el("tr", {}, el("td", {}, d.name), el("td", {}, d.kind), el("td", {}, d.channel), el("td", {}, d.bucket || ""),
          el("td", { class: "num" }, d.tier || ""), el("td", { class: "num" }, `${fmt.int(d.value)} ${d.unit}`),
          ...[d.intervals, d.estimated, d.edited, d.missing].map((n) => el("td", { class: "num" }, fmt.int(n))))))),
      el("p", {}, "CIS export of this account: ", exportLinks({ account: b.account }))));
  };
  const bills = async (acct) => {
    if (!acct) return;
    const bs = await v.get(`/api/v1/bills?account=${encodeURIComponent(acct)}&limit=50`);
    billBox.replaceChildren(bs.items.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Bill", "Period", "Status", "Total", "Sequence", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, bs.items.slice().reverse().map((b) => el("tr", { "data-bill": b.id },
        el("td", { class: "num" }, b.id), el("td", { class: "nowrap" }, `${b.period.from} – ${b.period.to}`),
        el("td", {}, el("span", { class: "badge " + (statusBadge[b.status] || "") }, b.status)), el("td", { class: "num" }, minor(b.total, b.currency)),
        el("td", { class: "num" }, b.sequence), el("td", {}, el("button", { class: "btn-bill", onclick: () => showBill(b.id).catch((e) => { err.textContent = e.message; }) }, "Lines and determinants")))))) :
      el("p", { class: "muted" }, `No bill of account ${acct} yet.`));
    if (bs.items.length && !detail.firstChild) await showBill(bs.items[bs.items.length - 1].id);
  };
  await tariffs().catch((e) => { err.textContent = e.message; });
  await bills(acctIn.value).catch((e) => { err.textContent = e.message; });
  v.every(5000, runs, err);
}
