// Pools: the session header (account name and settings) and the pools table with live counts.
import { $, badge, fmtDuration, fmtInt, h } from "./dom.js";
import { credentials } from "./api.js";
import { deniedNote, isDenied } from "./access.js";
import { state } from "./state.js";

export function renderHeader() {
  const a = state.account;
  const scopes = credentials()?.scopes;
  const keyText = scopes ? ` · key scopes: ${scopes.join(", ")}` : "";
  if (a) $("session-account").textContent = a.name && a.name !== a.id ? `${a.name} (${a.id})` : a.id;
  $("session-settings").textContent =
    (a ? ` · grace ${fmtDuration(a.grace_seconds)} · lease ${fmtDuration(a.lease_ttl_seconds)} · billing day ${a.billing_day}` : "") + keyText;
}

/** The pool's waitlist at its ceiling (docs/licensing.md#the-waitlist): shown only while someone waits. */
function waitlistNote(p) {
  if (!p.waiting) return null;
  const who = p.waiting === 1 ? "user waits" : "users wait";
  return h("span", { class: "badge badge-info waiting", "data-field": "waiting", title: `${fmtInt(p.waiting)} ${who} for a seat at the ceiling`, text: `${fmtInt(p.waiting)} waiting` });
}

export function renderPools() {
  const body = $("pools-table").tBodies[0];
  if (isDenied("pools")) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: "7" }, deniedNote("pools", "the pools"))));
    return;
  }
  if (!state.pools.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: "7", text: "This account has no pools yet." })));
    return;
  }
  body.replaceChildren(
    ...state.pools.map((p) => {
      const over = p.over_limit;
      const members = p.model === "named" ? `${fmtInt(p.assigned)} assigned` : `${fmtInt(p.members)} members`;
      let status;
      if (over) status = badge("over", `⚠ OVER LIMIT by ${fmtInt(p.active - p.quantity)}`);
      else if (p.model === "concurrent" && p.max_active !== null && p.active >= p.max_active) status = badge("warn", "AT CEILING");
      else status = badge("ok", "✓ Within limit");
      return h(
        "tr",
        { class: over ? "over-row" : null, "data-pool": p.id },
        h("th", { scope: "row", "data-field": "id", text: p.id }),
        h("td", { "data-field": "tier", text: p.tier }),
        h("td", { "data-field": "model", text: p.model }),
        h("td", { class: "num", "data-field": "quantity" }, fmtInt(p.quantity), p.max_active !== null ? h("span", { class: "muted", text: ` (ceiling ${fmtInt(p.max_active)})` }) : null),
        h("td", { class: "num", "data-field": "active", text: fmtInt(p.active) }),
        h("td", { class: "num", "data-field": "members", text: members }),
        h("td", { "data-field": "status" }, status, waitlistNote(p)),
      );
    }),
  );
}
