// The right-sizing advisor card (GET …/advice?cycles=3, docs/licensing.md#right-sizing-advice):
// per pool the quantity that would have billed no overage, the cheapest one and the saving when
// the account has prices; per named pool its concurrent equivalent; the add-on shortfall.
import { $, badge, fmtInt, h, table } from "./dom.js";
import { deniedNote, isDenied } from "./access.js";

const money = (minor, currency) => (minor === null || minor === undefined || !currency ? "—" : `${(minor / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`);

export function renderAdvice(advice) {
  const box = $("advice");
  if (!box) return;
  if (isDenied("billing") || advice?.denied) {
    box.replaceChildren(deniedNote("billing", "the advice"));
    return;
  }
  if (!advice?.ok) {
    box.replaceChildren(h("p", { class: "error", text: `The advice could not be loaded: ${advice?.error?.message ?? "no answer"}` }));
    return;
  }
  const a = advice.value;
  const rows = a.pools.map((p) => {
    const cycles = p.cycles.length;
    let suggestion;
    if (p.model === "concurrent") {
      suggestion = cycles === 0 ? "No ended cycle yet." : `${fmtInt(p.no_billable_overage_quantity)} would have billed no overage` + (p.cheapest_quantity != null ? `; ${fmtInt(p.cheapest_quantity)} would have cost least` : "");
    } else {
      suggestion = cycles === 0 ? "No ended cycle yet." : `peak ${fmtInt(p.peak_concurrency)} at once: ${fmtInt(p.concurrent_quantity)} of ${p.concurrent_pool} would have covered it`;
    }
    return h(
      "tr",
      { "data-advice-pool": p.pool },
      h("th", { scope: "row", text: p.pool }),
      h("td", { class: "num", text: fmtInt(p.quantity) }),
      h("td", { text: suggestion }),
      h("td", { class: "num", "data-field": "saving", text: money(p.saving, a.currency) }),
      h("td", { class: "num", text: String(cycles) }),
    );
  });
  const short = a.addons.filter((x) => x.shortfall > 0);
  box.replaceChildren(
    h("p", { class: "muted", text: a.currency ? `From the last ended cycles and the account's prices (${a.currency}).` : "From the last ended cycles. Set prices (PUT …/prices) to see costs and savings." }),
    rows.length ? table("Right-sizing per pool", ["Pool", "Quantity", "Advice", "Saving", "Cycles"], rows, { testid: "advice-table" }) : h("p", { class: "muted", text: "No pools." }),
    short.length
      ? h("p", {}, badge("over", "ADD-ON SHORTFALL"), ` ${short.map((x) => `${x.product}: short by ${fmtInt(x.shortfall)}`).join("; ")}.`)
      : h("p", {}, badge("ok", "✓ No add-on shortfall")),
  );
}

/** Sign-out: nothing of the last account stays on the page. */
export function clearAdvice() {
  $("advice")?.replaceChildren();
}
