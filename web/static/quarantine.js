// The console's quarantine: commands held over the anomaly limits, by
// issuer and type, with the reason each was held. A security officer
// releases or discards a whole group, or the commands ticked; anyone who
// reads the fleet sees it.
import { api, el, fmt } from "./common.js";

// quarantine renders the page into view; v is the console's view (its
// requests and timers end when it is left).
export async function quarantine(view, v, me, tz) {
  const officer = me.role === "security-officer";
  const err = el("p", { class: "error", id: "quarantine-error" });
  const note = el("p", { class: "readout", id: "quarantine-note" });
  const groups = el("div", { id: "quarantine-groups" });
  const list = el("div", { id: "quarantine-list" });
  view.append(el("h1", {}, "Quarantine"),
    el("p", { class: "muted" }, "Commands over an anomaly limit wait here, not sent, until a security officer releases or discards them. Refreshed every five seconds."),
    err, note,
    el("section", { class: "panel wide" }, el("h2", {}, "Held, by issuer and type"), groups),
    el("section", { class: "panel wide" }, el("h2", {}, "Held commands"), list));
  const ticked = new Set();

  async function decide(verb, body) {
    if (verb === "discard") {
      const reason = window.prompt("Why are these commands discarded?");
      if (!reason) return;
      body.reason = reason;
    } else if (!window.confirm("Release these commands to the meters (or to approval, where the policy holds them)?")) {
      return;
    }
    try {
      const d = await api(`/api/v1/quarantine/${verb}`, { method: "POST", body });
      note.textContent = verb === "release"
        ? `Released ${fmt.int(d.released)}, ${fmt.int(d.awaitingApproval)} awaiting approval, ${fmt.int(d.skipped)} left.`
        : `Discarded ${fmt.int(d.discarded)}, ${fmt.int(d.skipped)} left.`;
      ticked.clear();
      await refresh();
    } catch (e) {
      err.textContent = e.message;
    }
  }

  function actions(body, label) {
    if (!officer) return "";
    return el("span", { class: "actions" },
      el("button", { class: "release", title: "release " + label, onclick: () => decide("release", { ...body }) }, "Release"), " ",
      el("button", { class: "discard", title: "discard " + label, onclick: () => decide("discard", { ...body }) }, "Discard"));
  }

  async function refresh() {
    const p = await v.get("/api/v1/quarantine?limit=100");
    if (!p.groups.length) {
      groups.replaceChildren(el("p", { class: "muted", id: "quarantine-empty" }, "Nothing is quarantined."));
      list.replaceChildren();
      return;
    }
    groups.replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, ["Issuer", "Type", "Held", "First", "Last", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, p.groups.map((g) => el("tr", { "data-issuer": g.issuedBy, "data-type": g.type },
        el("td", {}, g.issuedBy || "(amigo)"), el("td", {}, g.type), el("td", { class: "num" }, fmt.int(g.count)),
        el("td", {}, fmt.dmhm(g.first, tz)), el("td", {}, fmt.dmhm(g.last, tz)),
        el("td", {}, actions({ issuedBy: g.issuedBy, type: g.type }, `${g.type} by ${g.issuedBy}`)))))));
    const rows = p.items.map((c) => {
      const box = officer ? el("input", { type: "checkbox", checked: ticked.has(c.mRID), onchange: (ev) => (ev.target.checked ? ticked.add(c.mRID) : ticked.delete(c.mRID)) }) : "";
      return el("tr", { "data-id": c.mRID },
        el("td", {}, box), el("td", {}, el("a", { href: "#/meter/" + encodeURIComponent(c.meter) }, c.meter)), el("td", {}, c.type),
        el("td", {}, c.issuedBy || "(amigo)"), el("td", { class: "reason" }, c.reason));
    });
    list.replaceChildren(
      officer ? el("p", {}, "Ticked: ", actions({ get ids() { return [...ticked]; } }, "the ticked commands")) : "",
      el("table", {}, el("thead", {}, el("tr", {}, ["", "Meter", "Type", "Issuer", "Why held"].map((h) => el("th", {}, h)))), el("tbody", {}, rows)),
      p.next ? el("p", { class: "muted" }, "The first 100 are shown; release or discard a group to decide on all of it.") : "");
  }
  v.every(5000, refresh, err);
}
