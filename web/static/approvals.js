// The approvals page: the critical commands that wait for a second
// person, oldest first, each with Approve and Reject. The server refuses
// the issuer's own approval; the page shows why.
import { api, el, fmt } from "./common.js";

// canApprove mirrors the roles that hold the approve permission, so the
// page is offered only to them; the server decides either way.
export function canApprove(me) {
  return me && (me.role === "admin" || me.role === "security-officer");
}

// span says how long a duration in milliseconds is, to the minute.
function span(ms) {
  const neg = ms < 0;
  let m = Math.floor(Math.abs(ms) / 60e3);
  const h = Math.floor(m / 60);
  m -= h * 60;
  const s = h ? `${h} h ${m} min` : `${m} min`;
  return neg ? "-" + s : s;
}

function paramList(ps) {
  const entries = Object.entries(ps || {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return el("span", { class: "muted" }, "–");
  return entries.map(([k, v]) => el("div", { title: v }, el("code", {}, k), " ", v.length > 40 ? v.slice(0, 37) + "…" : v));
}

export async function approvals(view, v) {
  const box = el("div", { id: "approvals" });
  const notice = el("p", { id: "approval-notice", class: "notice" });
  const err = el("p", { class: "error" });
  view.append(el("h1", {}, "Approvals"),
    el("p", { class: "muted" }, "Critical commands wait here until a second person approves or rejects them; nobody approves their own. Oldest first, refreshed every five seconds."),
    err, notice, box);
  const decide = async (c, how) => {
    let body;
    if (how === "approve") {
      if (!confirm(`Approve ${c.type} to meter ${c.meter}, issued by ${c.issuedBy || "amigo"}?`)) return;
    } else {
      const why = prompt(`Reject ${c.type} to meter ${c.meter}: why?`);
      if (!why) return;
      body = { reason: why };
    }
    try {
      const got = await api(`/api/v1/commands/${encodeURIComponent(c.mRID)}/${how}`, { method: "POST", body, signal: v.signal });
      notice.textContent = `${got.type} to meter ${got.meter} ${how === "approve" ? "approved" : "rejected"}: now ${got.status}.`;
      notice.className = "notice";
    } catch (e) {
      if (e.name === "AbortError") return;
      notice.textContent = e.message;
      notice.className = "error";
    }
    await load().catch((e) => { if (e.name !== "AbortError") err.textContent = e.message; });
  };
  const load = async () => {
    const p = await v.get("/api/v1/approvals?limit=200");
    const now = Date.now();
    box.replaceChildren(p.items.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Meter", "Command", "Issued by", "Waiting", "Expires in", "Parameters", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, p.items.map((c) => el("tr", { class: "status-" + c.status, "data-command": c.mRID },
        el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(c.meter) }, c.meter)),
        el("td", { class: "type" }, c.type),
        el("td", { class: "issuer" }, c.issuedBy || el("span", { class: "muted" }, "amigo")),
        el("td", { class: "nowrap", title: fmt.time(c.awaitingSince) }, span(now - Date.parse(c.awaitingSince))),
        el("td", { class: "nowrap", title: fmt.time(c.approvalDeadline) }, span(Date.parse(c.approvalDeadline) - now)),
        el("td", {}, paramList(c.parameters)),
        el("td", { class: "nowrap" },
          el("button", { class: "danger btn-approve", onclick: () => decide(c, "approve") }, "Approve"), " ",
          el("button", { class: "btn-reject", onclick: () => decide(c, "reject") }, "Reject")))))) :
      el("p", { class: "muted", id: "approvals-empty" }, "No commands await approval."));
  };
  v.every(5000, load, err);
}
