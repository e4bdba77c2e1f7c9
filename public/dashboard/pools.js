// Pools: the session header (account name and settings, the grace policy), the pools table with
// live counts, and each concurrent pool's team caps and reservations (docs/licensing.md#teams).
import { $, badge, fmtDuration, fmtInt, h } from "./dom.js";
import { credentials } from "./api.js";
import { deniedNote, isDenied } from "./access.js";
import { gracePolicy, state } from "./state.js";

/** The grace policy in words (docs/licensing.md#grace-policies): the short label and what it means. */
const POLICY_WORDS = {
  per_overrun: { label: "per over-run", title: "Each over-run of a place has its own grace: a place is billable once it stays over the limit longer than the grace." },
  cumulative: { label: "cumulative per cycle", title: "A place is billable once its over-limit time in the billing cycle, summed over all its over-runs, exceeds the grace." },
};

export function renderHeader() {
  const a = state.account;
  const scopes = credentials()?.scopes;
  const keyText = scopes ? ` · key scopes: ${scopes.join(", ")}` : "";
  if (a) $("session-account").textContent = a.name && a.name !== a.id ? `${a.name} (${a.id})` : a.id;
  const policy = POLICY_WORDS[gracePolicy()];
  $("session-settings").replaceChildren(
    ...(a
      ? [
          ` · grace ${fmtDuration(a.grace_seconds)} `,
          h("span", { "data-field": "grace-policy", "data-policy": gracePolicy(), title: policy.title, text: policy.label }),
          ` · lease ${fmtDuration(a.lease_ttl_seconds)} · billing day ${a.billing_day}`,
        ]
      : []),
    keyText,
  );
}

/** The pool's waitlist at its ceiling (docs/licensing.md#the-waitlist): shown only while someone waits. */
function waitlistNote(p) {
  if (!p.waiting) return null;
  const who = p.waiting === 1 ? "user waits" : "users wait";
  return h("span", { class: "badge badge-info waiting", "data-field": "waiting", title: `${fmtInt(p.waiting)} ${who} for a seat at the ceiling`, text: `${fmtInt(p.waiting)} waiting` });
}

export function renderPools() {
  renderPoolRows();
  renderPoolTeams();
}

function renderPoolRows() {
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
      const reserved = reservedOnlyNote(p);
      return h(
        "tr",
        { class: over ? "over-row" : null, "data-pool": p.id },
        h("th", { scope: "row", "data-field": "id", text: p.id }),
        h("td", { "data-field": "tier", text: p.tier }),
        h("td", { "data-field": "model", text: p.model }),
        h("td", { class: "num", "data-field": "quantity" }, fmtInt(p.quantity), p.max_active !== null ? h("span", { class: "muted", text: ` (ceiling ${fmtInt(p.max_active)})` }) : null),
        h("td", { class: "num", "data-field": "active", text: fmtInt(p.active) }),
        h("td", { class: "num", "data-field": "members", text: members }),
        h("td", { "data-field": "status" }, status, reserved, waitlistNote(p)),
      );
    }),
  );
}

/** The pool's teams as the last refresh read them, or null (not read, or refused). */
const teamsOf = (poolId) => state.teams.get(poolId) ?? null;

/**
 * Below the ceiling, but every free seat is reserved for a team: only members of a team with
 * unused reserved seats may check out (docs/licensing.md#teams).
 */
function reservedOnlyNote(p) {
  const teams = teamsOf(p.id);
  if (p.model !== "concurrent" || p.max_active === null || !teams || p.active >= p.max_active) return null;
  const unused = teams.reduce((a, t) => a + t.unused_reserve, 0);
  if (!unused || p.active + unused < p.max_active) return null;
  return h("span", {
    class: "badge badge-warn side",
    "data-field": "reserved-only",
    title: `${fmtInt(p.max_active - p.active)} free seat${p.max_active - p.active === 1 ? "" : "s"} below the ceiling, all reserved: only members of a team with unused reserved seats may check out`,
    text: "FREE SEATS RESERVED",
  });
}

function teamStatus(t) {
  if (t.max_active !== null && t.active >= t.max_active) return badge("warn", "AT TEAM CAP");
  if (t.max_active !== null) return badge("ok", "✓ Below cap");
  return badge("info", "No cap");
}

/** Each concurrent pool's team caps and reservations, one table per pool that has any. */
function renderPoolTeams() {
  const box = $("pool-teams");
  if (isDenied("pools")) {
    box.replaceChildren(deniedNote("pools", "the team caps"));
    return;
  }
  const pools = state.pools.filter((p) => p.model === "concurrent" && teamsOf(p.id)?.length);
  if (!pools.length) {
    box.replaceChildren(h("p", { class: "muted", "data-testid": "no-team-limits", text: "No team caps or reservations in any pool. Set them with PUT …/pools/{pool_id}/teams/{team} (README, Teams)." }));
    return;
  }
  box.replaceChildren(
    ...pools.map((p) => {
      const teams = teamsOf(p.id);
      const reserved = teams.reduce((a, t) => a + t.reserve, 0);
      const unused = teams.reduce((a, t) => a + t.unused_reserve, 0);
      const note =
        p.max_active === null
          ? "No ceiling: team caps only (a reservation needs the pool's max_active)."
          : `Ceiling ${fmtInt(p.max_active)}, ${fmtInt(p.active)} in use; ${fmtInt(reserved)} reserved for teams, ${fmtInt(unused)} of them unused. Outside a team's reservation, a seat is free while active + the other teams' unused reserved seats stays below the ceiling.`;
      const rows = teams.map((t) =>
        h(
          "tr",
          { "data-team": t.team },
          h("th", { scope: "row", "data-field": "team", text: t.team }),
          h("td", { class: "num", "data-field": "active", text: fmtInt(t.active) }),
          h("td", { class: "num", "data-field": "max_active", text: t.max_active === null ? "no cap" : fmtInt(t.max_active) }),
          h("td", { class: "num", "data-field": "reserve", text: fmtInt(t.reserve) }),
          h("td", { class: "num", "data-field": "unused_reserve", text: fmtInt(t.unused_reserve) }),
          h("td", { "data-field": "status" }, teamStatus(t)),
        ),
      );
      return h(
        "div",
        { class: "pool-teams", "data-pool-teams": p.id },
        h(
          "div",
          { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `${p.id}: team caps and reservations` },
          h(
            "table",
            {},
            h("caption", { text: `${p.id}` }),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col", text: "Team" }),
                h("th", { scope: "col", class: "num", text: "Active now" }),
                h("th", { scope: "col", class: "num", text: "Max active (cap)" }),
                h("th", { scope: "col", class: "num", text: "Reserved" }),
                h("th", { scope: "col", class: "num", text: "Reserved, unused" }),
                h("th", { scope: "col", text: "Status" }),
              ),
            ),
            h("tbody", {}, rows),
          ),
        ),
        h("p", { class: "muted", "data-field": "pool-note", text: note }),
      );
    }),
  );
}
