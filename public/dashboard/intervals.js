// Open over-limit intervals: since when, the peak, and the grace countdown that ticks every
// second on the service's clock, then BILLABLE with the figures so far. The grace end is the
// service's (`grace_ends_at` of the pool's seats), so it follows the account's grace policy.
import { $, badge, fmtClock, fmtDuration, fmtHours, fmtInt, fmtTime, h } from "./dom.js";
import { serverNow } from "./api.js";
import { deniedNote, isDenied } from "./access.js";
import { gracePolicy, state } from "./state.js";

export function renderOpenIntervals() {
  const box = $("open-intervals");
  if (isDenied("pools")) {
    box.replaceChildren(deniedNote("pools", "the pools' seats"));
    return;
  }
  const open = [];
  for (const p of state.pools) {
    const s = state.seats.get(p.id);
    if (p.model === "concurrent" && s?.interval && s.interval.ended_at === null) open.push({ pool: p, seats: s, interval: s.interval });
  }
  if (!open.length) {
    box.replaceChildren(h("p", {}, badge("ok", "✓ None"), " No pool is over its limit right now."));
    return;
  }
  box.replaceChildren(
    ...open.map(({ pool, seats, interval }) => {
      const graceEnd = seats.grace_ends_at ? String(Date.parse(seats.grace_ends_at)) : "";
      const el = h(
        "div",
        { class: "open-interval", "data-open-interval": pool.id, "data-grace-end": graceEnd, "data-billable-now": String(seats.billable_now ?? 0) },
        h("p", {}, badge("over", "⚠ OVER LIMIT"), " ", h("strong", { text: pool.id }), `: ${fmtInt(seats.active)} active on ${fmtInt(seats.limit)} seats (peak ${fmtInt(interval.peak_active)}, +${fmtInt(interval.peak_overage)}) since ${fmtTime(interval.started_at)}.`),
        h("p", { class: "countdown", "data-countdown": "" }),
        h("p", { class: "muted", "data-billable": "" }),
      );
      el._interval = interval;
      updateCountdown(el);
      return el;
    }),
  );
}

function updateCountdown(el) {
  const graceEnd = el.dataset.graceEnd ? Number(el.dataset.graceEnd) : null;
  const left = graceEnd === null ? null : (graceEnd - serverNow()) / 1000;
  const billableNow = Number(el.dataset.billableNow);
  const interval = el._interval;
  const countdown = el.querySelector("[data-countdown]");
  const billable = el.querySelector("[data-billable]");
  if (billableNow === 0 && left !== null && left > 0) {
    el.classList.remove("billable");
    countdown.textContent = `Grace ends in ${fmtDuration(left)} (at ${fmtClock(graceEnd)}): within grace, not billable yet.`;
    billable.textContent =
      gracePolicy() === "cumulative"
        ? "Cumulative grace policy: a place's time over the limit earlier in this cycle counts, so its grace can end sooner than this over-run's own. Bring active seats back to the quantity, or raise the quantity, to stop counting."
        : "Bring active seats back to the quantity before then, or raise the quantity, and nothing is billed.";
    return;
  }
  el.classList.add("billable");
  const next = left !== null && left > 0 ? ` Another place becomes billable in ${fmtDuration(left)} (at ${fmtClock(graceEnd)}).` : "";
  countdown.textContent =
    billableNow > 0
      ? `BILLABLE: ${fmtInt(billableNow)} place${billableNow === 1 ? "" : "s"} over the limit now.${next}`
      : `Grace ended${graceEnd === null ? "" : ` at ${fmtClock(graceEnd)}`}: BILLABLE.`;
  billable.textContent = `${fmtInt(interval.billable_overage_seats)} billable overage seat${interval.billable_overage_seats === 1 ? "" : "s"} so far, ${fmtHours(interval.billable_seat_seconds)} billable seat-hours (as of the last refresh).`;
}

export function tick() {
  for (const el of document.querySelectorAll("[data-open-interval]")) updateCountdown(el);
}
