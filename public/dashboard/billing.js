// Billing: the current cycle's preview per pool and add-on, and the finalized past cycles. A
// service without billing answers 404: said in the section, not reported as a failure.
import { $, badge, fmtDate, fmtHours, fmtInt, fmtTime, h, table } from "./dom.js";
import { ApiProblem } from "./api.js";
import { deniedNote, isDenied } from "./access.js";

/**
 * Chargeback by team (docs/licensing.md#chargeback-by-team): per concurrent pool the preview's
 * `teams`, each with the share of the pool's billable seat time attributed to it (last in, first
 * over). Null when no pool has teams' figures (a service that does not count them sends none).
 */
function chargebackTable(pools) {
  const rows = [];
  for (const p of pools) {
    for (const t of p.teams ?? []) {
      const share = p.billable_seat_seconds > 0 ? `${Math.round((t.billable_seat_seconds / p.billable_seat_seconds) * 100)}%` : "—";
      rows.push(
        h(
          "tr",
          { "data-chargeback": `${p.pool}/${t.team ?? ""}` },
          h("th", { scope: "row", text: p.pool }),
          h("td", { "data-field": "team" }, t.team ?? h("span", { class: "muted", text: "no team" })),
          h("td", { class: "num", "data-field": "peak_active", text: fmtInt(t.peak_active) }),
          h("td", { class: "num", "data-field": "seat_hours", text: fmtHours(t.seat_seconds) }),
          h("td", { class: "num", "data-field": "billable_seat_hours", text: fmtHours(t.billable_seat_seconds) }),
          h("td", { class: "num", "data-field": "share", text: share }),
        ),
      );
    }
  }
  if (!rows.length) return null;
  return h(
    "div",
    {},
    h("h4", { text: "Chargeback by team in the current cycle" }),
    h("p", { class: "muted", text: "Each billable seat-second is charged to the team of the holder who arrived last (last in, first over); the teams' billable seat-hours add up to the pool's." }),
    table("Chargeback by team in the current cycle", ["Pool", "Team", "Peak active", "Seat-hours", "Billable seat-hours", "Share of the pool's billable"], rows, { testid: "chargeback-table" }),
  );
}

function billingNotAvailable(result) {
  return !result.ok && result.error instanceof ApiProblem && result.error.status === 404;
}

export function renderBilling(preview, summaries) {
  const pbox = $("billing-preview");
  const sbox = $("billing-summaries");
  if (isDenied("billing")) {
    pbox.replaceChildren(deniedNote("billing", "billing"));
    sbox.replaceChildren();
    return;
  }
  if (billingNotAvailable(preview)) {
    pbox.replaceChildren(h("h3", { text: "Current cycle" }), h("p", { class: "muted", text: "Billing previews are not available on this service yet." }));
  } else if (!preview.ok) {
    pbox.replaceChildren(h("h3", { text: "Current cycle" }), h("p", { class: "error", text: `The preview could not be loaded: ${preview.error.message}` }));
  } else {
    const s = preview.value;
    const concurrent = (s.pools ?? []).filter((p) => p.model === "concurrent");
    const totalSeats = concurrent.reduce((a, p) => a + (p.billable_overage_seats ?? 0), 0);
    const totalSeconds = concurrent.reduce((a, p) => a + (p.billable_seat_seconds ?? 0), 0);
    pbox.replaceChildren(
      h("h3", { text: `Current cycle: ${fmtDate(s.cycle_start)} to ${fmtDate(s.cycle_end)} (preview)` }),
      h(
        "p",
        { "data-testid": "preview-totals" },
        totalSeats > 0 ? badge("over", "BILLABLE OVERAGE") : badge("ok", "✓ No billable overage"),
        ` ${fmtInt(totalSeats)} billable overage seat${totalSeats === 1 ? "" : "s"}, ${fmtHours(totalSeconds)} billable seat-hours so far (figures up to ${fmtTime(s.generated_at)}).`,
      ),
      table(
        "Current cycle by pool",
        ["Pool", "Quantity", "Assigned / members", "Peak active", "Peak overage", "Billable overage seats", "Billable seat-hours", "Intervals (billable)"],
        (s.pools ?? []).map((p) =>
          h(
            "tr",
            { "data-preview-pool": p.pool },
            h("th", { scope: "row", text: p.pool }),
            h("td", { class: "num", text: fmtInt(p.quantity) }),
            h("td", { class: "num", text: p.model === "named" ? `${fmtInt(p.assigned)} assigned` : `${fmtInt(p.members)} members` }),
            h("td", { class: "num", text: fmtInt(p.peak_active) }),
            h("td", { class: "num", text: p.model === "named" ? "—" : fmtInt(p.peak_overage) }),
            h("td", { class: "num", "data-field": "billable_overage_seats", text: p.model === "named" ? "—" : fmtInt(p.billable_overage_seats) }),
            h("td", { class: "num", "data-field": "billable_seat_hours", text: p.model === "named" ? "—" : fmtHours(p.billable_seat_seconds) }),
            h("td", { class: "num", text: p.model === "named" ? "—" : `${fmtInt(p.intervals)} (${fmtInt(p.billable_intervals)})` }),
          ),
        ),
        { testid: "preview-table" },
      ),
      chargebackTable(concurrent),
      (s.addons ?? []).length ? h("h4", { text: "Add-ons in the current cycle" }) : null,
      (s.addons ?? []).length
        ? table(
            "Add-ons in the current cycle",
            ["Add-on", "Purchased", "Consumed"],
            s.addons.map((a) => h("tr", {}, h("th", { scope: "row", text: a.product }), h("td", { class: "num", text: fmtInt(a.purchased) }), h("td", { class: "num", text: fmtInt(a.consumed) }))),
          )
        : null,
    );
  }

  if (billingNotAvailable(summaries)) {
    sbox.replaceChildren(h("h3", { text: "Past cycles" }), h("p", { class: "muted", text: "Billing summaries are not available on this service yet." }));
  } else if (!summaries.ok) {
    sbox.replaceChildren(h("h3", { text: "Past cycles" }), h("p", { class: "error", text: `Past summaries could not be loaded: ${summaries.error.message}` }));
  } else if (!summaries.value.items.length) {
    sbox.replaceChildren(h("h3", { text: "Past cycles" }), h("p", { class: "muted", text: "No finalized cycles yet: a summary appears after the first billing cycle ends." }));
  } else {
    const rows = [];
    for (const s of summaries.value.items) {
      for (const p of s.pools ?? []) {
        if (p.model === "named") continue;
        rows.push(
          h(
            "tr",
            {},
            h("th", { scope: "row", text: `${fmtDate(s.cycle_start)} – ${fmtDate(s.cycle_end)}` }),
            h("td", { text: p.pool }),
            h("td", { class: "num", text: fmtInt(p.peak_active) }),
            h("td", { class: "num", text: fmtInt(p.billable_overage_seats) }),
            h("td", { class: "num", text: fmtHours(p.billable_seat_seconds) }),
            h("td", { class: "num", text: `${fmtInt(p.intervals)} (${fmtInt(p.billable_intervals)})` }),
          ),
        );
      }
    }
    sbox.replaceChildren(
      h("h3", { text: "Past cycles" }),
      rows.length
        ? table("Finalized billing cycles, newest first", ["Cycle (UTC)", "Pool", "Peak active", "Billable overage seats", "Billable seat-hours", "Intervals (billable)"], rows)
        : h("p", { class: "muted", text: "No concurrent pools in the finalized cycles." }),
    );
  }
}
